"""The pure planner: state found + state wanted -> ordered actions, lines, warnings,
predicted state and diff. Cases the kernel tests cannot reach live here too (implicit
endpoints, backends that lack `endpoint change` or a flag)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    KERNEL_IN_PLACE_FLAGS,
    USER_FLAGS,
    Capabilities,
    make_endpoint,
    validate_endpoints,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.plan import (
    path_manager_diff,
    plan_endpoints,
    plan_limits,
)

PYROUTE2 = Capabilities(USER_FLAGS, KERNEL_IN_PLACE_FLAGS, "pyroute2 0.9.7")
IPROUTE2_6_1 = Capabilities(["signal", "subflow", "backup", "fullmesh"], KERNEL_IN_PLACE_FLAGS,
                            "this iproute2 (ip utility, iproute2-6.1.0)")
IPROUTE2_5_15 = Capabilities(["signal", "subflow", "backup"], (), "this iproute2 (ip utility, iproute2-5.15.0)")
LINKS = {"lo", "eth0", "eth1"}


def ep(address, endpoint_id=None, *flags, **kw):
    return make_endpoint(address, endpoint_id, kw.get("port"), kw.get("dev"), flags)


def plan(current, specs, state="present", exclusive=False, caps=PYROUTE2):
    return plan_endpoints(current, validate_endpoints(specs, state), state, exclusive, caps, LINKS, "ns1")


CASES = [
    ("nothing to do",
     [ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "flags": ["subflow"]}], {},
     [], [ep("10.0.0.1", 1, "subflow")]),
    ("fields left out are left as they are",
     [ep("10.0.0.1", 1, "subflow", "backup", dev="eth1")], [{"address": "10.0.0.1"}], {},
     [], [ep("10.0.0.1", 1, "subflow", "backup", dev="eth1")]),
    ("add with an id, then one the kernel numbers",
     [], [{"address": "10.0.0.2", "flags": ["signal"]}, {"address": "10.0.0.1", "id": 4, "dev": "eth1"}], {},
     ["add endpoint 10.0.0.1 id 4 dev eth1", "add endpoint 10.0.0.2 signal (id chosen by the kernel)"],
     [ep("10.0.0.1", 4, dev="eth1"), ep("10.0.0.2", None, "signal")]),
    ("backup on, in place",
     [ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "flags": ["subflow", "backup"]}], {},
     ["change endpoint 10.0.0.1 id 1 subflow in place: flags subflow -> subflow backup"],
     [ep("10.0.0.1", 1, "subflow", "backup")]),
    ("backup off and fullmesh on, in place",
     [ep("10.0.0.1", 1, "subflow", "backup")], [{"address": "10.0.0.1", "flags": ["subflow", "fullmesh"]}], {},
     ["change endpoint 10.0.0.1 id 1 subflow backup in place: flags subflow backup -> subflow fullmesh"],
     [ep("10.0.0.1", 1, "subflow", "fullmesh")]),
    ("without `endpoint change`, backup is a delete and add",
     [ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "flags": ["subflow", "backup"]}],
     {"caps": IPROUTE2_5_15},
     ["delete endpoint 10.0.0.1 id 1 subflow: to add it again: flags subflow -> subflow backup",
      "add endpoint 10.0.0.1 id 1 subflow backup"],
     [ep("10.0.0.1", 1, "subflow", "backup")]),
    ("signal to subflow is a delete and add keeping the id",
     [ep("10.0.0.1", 3, "signal", dev="eth0")], [{"address": "10.0.0.1", "flags": ["subflow"]}], {},
     ["delete endpoint 10.0.0.1 id 3 signal dev eth0: to add it again: flags signal -> subflow",
      "add endpoint 10.0.0.1 id 3 subflow dev eth0"],
     [ep("10.0.0.1", 3, "subflow", dev="eth0")]),
    ("laminar does not change in place",
     [ep("10.0.0.1", 3, "subflow")], [{"address": "10.0.0.1", "flags": ["subflow", "laminar"]}], {},
     ["delete endpoint 10.0.0.1 id 3 subflow: to add it again: flags subflow -> subflow laminar",
      "add endpoint 10.0.0.1 id 3 subflow laminar"],
     [ep("10.0.0.1", 3, "subflow", "laminar")]),
    ("dev and id changes together with backup are one delete and add",
     [ep("10.0.0.1", 3, "subflow", dev="eth0")],
     [{"address": "10.0.0.1", "id": 5, "dev": "eth1", "flags": ["subflow", "backup"]}], {},
     ["delete endpoint 10.0.0.1 id 3 subflow dev eth0: to add it again: flags subflow -> subflow backup, "
      "dev eth0 -> eth1, id 3 -> 5",
      "add endpoint 10.0.0.1 id 5 subflow backup dev eth1"],
     [ep("10.0.0.1", 5, "subflow", "backup", dev="eth1")]),
    ("a port makes another endpoint",
     [ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "port": 80, "flags": ["signal"]}], {},
     ["add endpoint 10.0.0.1 port 80 signal (id chosen by the kernel)"],
     [ep("10.0.0.1", 1, "subflow"), ep("10.0.0.1", None, "signal", port=80)]),
    ("exclusive deletes the others first, keeps implicit ones",
     [ep("10.0.0.1", 1, "subflow"), ep("10.0.0.2", 2, "signal"), ep("10.0.0.3", 3, "implicit")],
     [{"address": "10.0.0.4", "id": 2, "flags": ["signal"]}], {"exclusive": True},
     ["delete endpoint 10.0.0.1 id 1 subflow: not listed (exclusive)",
      "delete endpoint 10.0.0.2 id 2 signal: not listed (exclusive)",
      "add endpoint 10.0.0.4 id 2 signal"],
     [ep("10.0.0.4", 2, "signal"), ep("10.0.0.3", 3, "implicit")]),
    ("asking for an implicit endpoint's address makes it an ordinary one",
     [ep("10.0.0.3", 3, "implicit")], [{"address": "10.0.0.3"}], {},
     ["delete endpoint 10.0.0.3 id 3 implicit: to add it again: flags implicit -> (none)",
      "add endpoint 10.0.0.3 id 3"],
     [ep("10.0.0.3", 3)]),
    ("absent by address takes every port, by id one",
     [ep("10.0.0.1", 1, "subflow"), ep("10.0.0.1", 2, "signal", port=80), ep("10.0.0.2", 3), ep("10.0.0.4", 4)],
     [{"address": "10.0.0.1"}, {"id": 4}, {"address": "10.0.0.9"}], {"state": "absent"},
     ["delete endpoint 10.0.0.1 id 1 subflow: state=absent",
      "delete endpoint 10.0.0.1 port 80 id 2 signal: state=absent",
      "delete endpoint 10.0.0.4 id 4: state=absent"],
     [ep("10.0.0.2", 3)]),
    ("absent by address and port",
     [ep("10.0.0.1", 1, "subflow"), ep("10.0.0.1", 2, "signal", port=80)],
     [{"address": "10.0.0.1", "port": 80}], {"state": "absent"},
     ["delete endpoint 10.0.0.1 port 80 id 2 signal: state=absent"],
     [ep("10.0.0.1", 1, "subflow")]),
    ("absent needs address and id to match together",
     [ep("10.0.0.1", 1), ep("10.0.0.2", 2)], [{"address": "10.0.0.1", "id": 2}], {"state": "absent"},
     [], [ep("10.0.0.1", 1), ep("10.0.0.2", 2)]),
]


@pytest.mark.parametrize("name, current, specs, options, changes, after", CASES, ids=[c[0] for c in CASES])
def test_plan_endpoints(name, current, specs, options, changes, after):
    result = plan(current, specs, **options)
    assert result.changes == changes, name
    assert result.after == after, name
    assert result.changed is bool(changes)
    assert result.before == current


def test_a_delete_and_add_warns_that_subflows_close_and_in_place_does_not():
    replaced = plan([ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "flags": ["signal"]}])
    assert replaced.warnings == ["endpoint 10.0.0.1 id 1 signal is deleted and added again "
                                 "(flags subflow -> signal): the subflows using it close"]
    in_place = plan([ep("10.0.0.1", 1, "subflow")], [{"address": "10.0.0.1", "flags": ["subflow", "backup"]}])
    assert in_place.warnings == []


def test_actions_carry_what_the_backend_needs():
    result = plan([ep("10.0.0.1", 1, "subflow"), ep("10.0.0.2", 2)],
                  [{"address": "10.0.0.1", "flags": ["subflow", "backup"]}, {"address": "10.0.0.3"}],
                  exclusive=True)
    assert [(a["op"], a["endpoint"]["address"]) for a in result.actions] == [
        ("delete", "10.0.0.2"), ("set_flags", "10.0.0.1"), ("add", "10.0.0.3")]
    assert result.actions[1]["after"]["flags"] == ["subflow", "backup"]


REFUSED = [
    ("a ninth endpoint",
     [ep("10.0.0.%d" % i, i) for i in range(1, 9)], [{"address": "10.0.0.9"}], {},
     "the result would have 9 endpoints"),
    ("an id a kept endpoint holds",
     [ep("10.0.0.1", 1)], [{"address": "10.0.0.2", "id": 1}], {},
     "id 1 is wanted for 10.0.0.2 but 10.0.0.1 id 1 keeps it"),
    ("an id a changed endpoint keeps",
     [ep("10.0.0.1", 1)], [{"address": "10.0.0.2", "id": 1}, {"address": "10.0.0.1", "flags": ["signal"]}], {},
     "endpoints[1].id 1 is wanted for 10.0.0.1 but 10.0.0.2 id 1 keeps it"),
    ("a dev that does not exist",
     [], [{"address": "10.0.0.1", "dev": "eth9"}], {},
     "dev='eth9' does not exist in netns ns1"),
    ("a port on an existing endpoint without signal",
     [ep("10.0.0.1", 1, "signal", port=80)], [{"address": "10.0.0.1", "port": 80, "flags": ["subflow"]}], {},
     "port=80 needs the signal flag"),
    ("a port on a new endpoint with no flags given",
     [], [{"address": "10.0.0.1", "port": 80}], {},
     "port=80 needs the signal flag"),
    ("a flag the backend cannot set",
     [], [{"address": "10.0.0.1", "flags": ["subflow", "laminar"]}], {"caps": IPROUTE2_6_1},
     "10.0.0.1 subflow laminar needs flag laminar, which this iproute2 (ip utility, iproute2-6.1.0) "
     "cannot set"),
    ("fullmesh on an iproute2 without it",
     [], [{"address": "10.0.0.1", "flags": ["subflow", "fullmesh"]}], {"caps": IPROUTE2_5_15},
     "needs flag fullmesh"),
    ("a delete that could not be undone before another step",
     [ep("10.0.0.1", 1, "subflow", "laminar")], [{"address": "10.0.0.2"}], {"caps": IPROUTE2_6_1, "exclusive": True},
     "endpoint 10.0.0.1 id 1 subflow laminar has flag laminar, which this iproute2 (ip utility, "
     "iproute2-6.1.0) cannot set: if a later step failed, its deletion could not be undone"),
]


@pytest.mark.parametrize("name, current, specs, options, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_plan_endpoints_refuses_before_anything(name, current, specs, options, message):
    with pytest.raises(ValidationError) as caught:
        plan(current, specs, **options)
    assert message in str(caught.value), name


def test_a_single_delete_needs_no_undo_even_when_the_backend_could_not_re_add_it():
    result = plan([ep("10.0.0.1", 1, "subflow", "laminar")], [{"address": "10.0.0.1"}], state="absent",
                  caps=IPROUTE2_6_1)
    assert result.changes == ["delete endpoint 10.0.0.1 id 1 subflow laminar: state=absent"]


def test_an_implicit_endpoint_may_be_deleted_first_since_the_kernel_makes_it_again():
    result = plan([ep("10.0.0.3", 3, "implicit")], [{"address": "10.0.0.3", "flags": ["subflow"]}],
                  caps=IPROUTE2_5_15)
    assert [a["op"] for a in result.actions] == ["delete", "add"]


def test_endpoints_diff_lists_one_line_per_endpoint_in_address_order():
    diff = path_manager_diff("ns1", endpoints_before=[ep("10.0.0.2", 1, "signal")],
                             endpoints_after=[ep("10.0.0.10", None, "subflow"), ep("10.0.0.2", 1)])
    assert diff == {
        "before": {"endpoints": ["10.0.0.2 id 1 signal"]},
        "after": {"endpoints": ["10.0.0.2 id 1", "10.0.0.10 subflow"]},
        "before_header": "MPTCP endpoints before (netns ns1)",
        "after_header": "MPTCP endpoints after (netns ns1)",
    }


@pytest.mark.parametrize("wanted, changes, after", [
    ({}, [], {"subflows": 2, "add_addr_accepted": 0}),
    ({"subflows": 2}, [], {"subflows": 2, "add_addr_accepted": 0}),
    ({"add_addr_accepted": 4}, ["set limits: add_addr_accepted 0 -> 4"], {"subflows": 2, "add_addr_accepted": 4}),
    ({"subflows": 0, "add_addr_accepted": 8}, ["set limits: subflows 2 -> 0, add_addr_accepted 0 -> 8"],
     {"subflows": 0, "add_addr_accepted": 8}),
])
def test_plan_limits(wanted, changes, after):
    current = {"subflows": 2, "add_addr_accepted": 0}
    result = plan_limits(current, wanted)
    assert (result.changes, result.after, result.before) == (changes, after, current)
    if changes:
        assert result.actions[0]["before"] == current and result.actions[0]["after"] == after


def test_limits_diff():
    assert path_manager_diff(None, {"subflows": 2, "add_addr_accepted": 0}, {"subflows": 3, "add_addr_accepted": 0}) == {
        "before": {"add_addr_accepted": 0, "subflows": 2}, "after": {"add_addr_accepted": 0, "subflows": 3},
        "before_header": "MPTCP limits before", "after_header": "MPTCP limits after"}
