"""mptcp_endpoint against the real kernel: a fresh namespace per test, both backends for
every case, and `ip -n NS -j mptcp endpoint show` as the oracle (read by the test's own
code below, not by the collection's parser).

Most cases call the module's own code in-process (fast, and the backend calls can be
watched); the last part goes through `ansible` itself for argument handling and return
values."""

import json
import os
import shutil

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_endpoints
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import validate_endpoints
from this_ip import IP_SIDES, laminar_by, on_side

IP = shutil.which("ip")
BACKENDS = ["pyroute2", "iproute2"]
BITS = {"signal": 0x1, "subflow": 0x2, "backup": 0x4, "fullmesh": 0x8, "implicit": 0x10, "laminar": 0x20}


def bits(*names):
    return sum(BITS[name] for name in names)


def oracle(netns):
    """{(address, port): (id, dev, flag bits)} from `ip -j mptcp endpoint show`."""
    found = {}
    for entry in netns.endpoints():
        value = sum(bit for name, bit in BITS.items() if entry.get(name) is True)
        value |= int(entry.get("rawflags", "0"), 16)
        found[(entry["address"], entry.get("port", 0))] = (entry["id"], entry.get("dev"), value)
    return found


class Watched:
    """A backend whose writes are recorded as (operation, address)."""

    def __init__(self, backend):
        self.backend = backend
        self.calls = []
        for op in ("add_endpoint", "delete_endpoint", "set_endpoint_flags"):
            setattr(self, op, self._recorder(op))

    def _recorder(self, op):
        method = getattr(self.backend, op)

        def record(endpoint, *args):
            self.calls.append((op.split("_")[0], endpoint["address"]))
            return method(endpoint, *args)
        return record

    def __getattr__(self, name):
        return getattr(self.backend, name)


def run(netns, backend, endpoints, state="present", exclusive=False, check_mode=False):
    """What the module does, in-process; returns its result plus the backend's writes."""
    wanted = validate_endpoints(endpoints, state)
    watched = Watched(open_backend(backend, netns.name, netns.ip_runner, IP))
    try:
        result = ensure_endpoints(watched, wanted, state, exclusive, check_mode, netns.name)
    finally:
        watched.close()
    result["calls"] = watched.calls
    return result


def rejected(netns, backend, endpoints, *fragments, **kwargs):
    """Run and expect a refusal naming `fragments`, with the namespace left as it was."""
    before = oracle(netns)
    with pytest.raises(MptcpError) as caught:
        run(netns, backend, endpoints, **kwargs)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert oracle(netns) == before
    return caught.value


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def ns(netns):
    """The test namespace with two veth interfaces: e1 (198.18.1.1/24, 2001:db8:1::1/64) and
    e2 (198.18.2.1/24)."""
    netns.add_interface("e1", "198.18.1.1/24", "2001:db8:1::1/64")
    netns.add_interface("e2", "198.18.2.1/24")
    return netns


# --- the kernel's own rules ---------------------------------------------------------------

def test_a_new_namespace_has_no_endpoints_and_an_empty_exclusive_list_keeps_it(ns, backend):
    assert oracle(ns) == {}
    result = run(ns, backend, [], exclusive=True)
    assert (result["changed"], result["changes"], result["endpoints"], result["calls"]) == (False, [], [], [])


FLAG_SETS = [["signal"], ["subflow"], ["backup"], ["fullmesh"], ["subflow", "backup"],
             ["subflow", "fullmesh"], ["subflow", "backup", "fullmesh"], ["signal", "backup"],
             ["signal", "subflow"], []]
LAMINAR_SETS = [["laminar"], ["subflow", "laminar"]]


def flag_ids(flags):
    return "-".join(flags) or "none"


def set_and_again(ns, backend, flags):
    spec = [{"address": "198.18.1.1", "id": 3, "flags": flags}]
    first = run(ns, backend, spec)
    assert first["changed"] and first["calls"] == [("add", "198.18.1.1")]
    assert oracle(ns) == {("198.18.1.1", 0): (3, None, bits(*flags))}
    assert first["endpoints"] == [{"id": 3, "address": "198.18.1.1", "port": None, "dev": None, "flags": flags}]
    second = run(ns, backend, spec)
    assert (second["changed"], second["changes"], second["calls"]) == (False, [], [])
    assert oracle(ns) == {("198.18.1.1", 0): (3, None, bits(*flags))}


@pytest.mark.parametrize("flags", FLAG_SETS, ids=flag_ids)
def test_every_flag_is_set_as_asked_and_a_second_run_changes_nothing(ns, backend, flags):
    set_and_again(ns, backend, flags)


@pytest.mark.parametrize("flags", LAMINAR_SETS, ids=flag_ids)
def test_pyroute2_sets_laminar_as_asked(ns, flags):
    set_and_again(ns, "pyroute2", flags)


@IP_SIDES
@pytest.mark.parametrize("flags", LAMINAR_SETS, ids=flag_ids)
def test_iproute2_sets_laminar_only_where_ip_knows_it(ns, ip_knows_laminar, flags):
    on_side(ip_knows_laminar)
    if ip_knows_laminar:
        set_and_again(ns, "iproute2", flags)
    else:
        rejected(ns, "iproute2", [{"address": "198.18.1.1", "id": 3, "flags": flags}],
                 "needs flag laminar, which this iproute2", "cannot set", "backend=pyroute2")


def test_the_kernel_numbers_endpoints_added_without_an_id(ns, backend):
    result = run(ns, backend, [{"address": "198.18.1.1", "flags": ["subflow"]},
                               {"address": "198.18.2.1", "id": 5, "flags": ["subflow"]},
                               {"address": "198.18.2.2", "flags": ["signal"]}])
    found = oracle(ns)
    assert found[("198.18.2.1", 0)][0] == 5
    numbered = dict(((e["address"], 0), e["id"]) for e in result["endpoints"])
    assert numbered == dict((key, value[0]) for key, value in found.items())
    # The kernel numbers after the highest id it gave (6, 7 here), not the lowest free one.
    assert sorted(numbered.values()) == [5, 6, 7]


def test_the_kernel_allows_eight_endpoints_and_the_module_refuses_a_ninth(ns, backend):
    eight = [{"address": "198.18.1.%d" % i, "flags": ["subflow"]} for i in range(1, 9)]
    assert run(ns, backend, eight)["changed"]
    assert len(oracle(ns)) == 8
    rejected(ns, backend, [{"address": "198.18.1.9", "flags": ["subflow"]}],
             "9 endpoints", "at most 8")


def test_nine_endpoints_in_one_run_touch_nothing(ns, backend):
    nine = [{"address": "198.18.1.%d" % i} for i in range(1, 10)]
    rejected(ns, backend, nine, "9 endpoints", "at most 8")
    assert oracle(ns) == {}


def test_ids_run_from_1_to_255_and_a_kept_endpoint_keeps_its_id(ns, backend):
    run(ns, backend, [{"address": "198.18.1.1", "id": 255, "flags": ["subflow"]},
                      {"address": "198.18.1.2", "id": 1, "flags": ["subflow"]}])
    assert oracle(ns) == {("198.18.1.1", 0): (255, None, 2), ("198.18.1.2", 0): (1, None, 2)}
    rejected(ns, backend, [{"address": "198.18.2.1", "id": 255}], "id 255", "198.18.1.1 id 255")
    # Once 198.18.1.1 is no longer wanted (exclusive), its id is free for another address.
    run(ns, backend, [{"address": "198.18.1.2"}, {"address": "198.18.2.1", "id": 255, "flags": ["signal"]}],
        exclusive=True)
    assert oracle(ns) == {("198.18.1.2", 0): (1, None, 2), ("198.18.2.1", 0): (255, None, 1)}


def test_an_address_with_a_port_is_another_endpoint_than_the_address_alone(ns, backend):
    spec = [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"], "dev": "e1"},
            {"address": "198.18.1.1", "id": 2, "port": 8080, "flags": ["signal"]}]
    assert run(ns, backend, spec)["changed"]
    assert oracle(ns) == {("198.18.1.1", 0): (1, "e1", 2), ("198.18.1.1", 8080): (2, None, 1)}
    assert not run(ns, backend, spec)["changed"]


def test_ipv6_endpoints_are_compared_in_their_compressed_form(ns, backend):
    spec = [{"address": "2001:DB8:1:0:0:0:0:1", "id": 4, "flags": ["subflow"], "dev": "e1"}]
    assert run(ns, backend, spec)["changed"]
    assert oracle(ns) == {("2001:db8:1::1", 0): (4, "e1", 2)}
    assert not run(ns, backend, spec)["changed"]


# --- in place or delete and add -----------------------------------------------------------

IN_PLACE = [
    (["subflow"], ["subflow", "backup"]),
    (["subflow", "backup"], ["subflow", "fullmesh"]),
    (["subflow", "backup", "fullmesh"], ["subflow"]),
    (["signal"], ["signal", "backup"]),
    (["signal", "backup"], ["signal"]),
]


@pytest.mark.parametrize("before, after", IN_PLACE, ids="-".join)
def test_backup_and_fullmesh_change_in_place(ns, backend, before, after):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "flags": before, "dev": "e1"}])
    result = run(ns, backend, [{"address": "198.18.1.1", "flags": after}])
    assert result["calls"] == [("set", "198.18.1.1")]
    assert result["changes"] == ["change endpoint 198.18.1.1 id 7 %s dev e1 in place: flags %s -> %s"
                                 % (" ".join(before), " ".join(before), " ".join(after))]
    assert result["warnings"] == []
    assert oracle(ns) == {("198.18.1.1", 0): (7, "e1", bits(*after))}


def test_an_in_place_change_keeps_laminar(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "flags": ["subflow", "laminar"]}])
    result = run(ns, backend, [{"address": "198.18.1.1", "flags": ["subflow", "laminar", "backup"]}])
    assert result["calls"] == [("set", "198.18.1.1")]
    assert oracle(ns) == {("198.18.1.1", 0): (7, None, bits("subflow", "laminar", "backup"))}


REPLACED = [
    ("signal to subflow", ["signal"], {"flags": ["subflow"]}, (7, "e1", bits("subflow"))),
    ("subflow to signal", ["subflow"], {"flags": ["signal"]}, (7, "e1", bits("signal"))),
    ("dev", ["signal"], {"dev": "e2"}, (7, "e2", bits("signal"))),
    ("id", ["signal"], {"id": 9}, (9, "e1", bits("signal"))),
]
LAMINAR_REPLACED = [
    ("laminar added", ["signal"], {"flags": ["signal", "laminar"]}, (7, "e1", bits("signal", "laminar")),
     ("needs flag laminar", "cannot set")),
    # Deleting it could not be undone if the add after it failed.
    ("laminar removed", ["subflow", "laminar"], {"flags": ["subflow"]}, (7, "e1", bits("subflow")),
     ("has flag laminar", "could not be undone")),
]


def replaced(ns, backend, what, before, change, expected):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "flags": before, "dev": "e1"}])
    spec = dict({"address": "198.18.1.1"}, **change)
    result = run(ns, backend, [spec])
    assert result["calls"] == [("delete", "198.18.1.1"), ("add", "198.18.1.1")], what
    assert result["changes"][0].startswith("delete endpoint 198.18.1.1 id 7 %s dev e1: to add it again"
                                           % " ".join(before))
    assert len(result["warnings"]) == 1 and "the subflows using it close" in result["warnings"][0]
    assert oracle(ns) == {("198.18.1.1", 0): expected}
    assert not run(ns, backend, [spec])["changed"]


@pytest.mark.parametrize("what, before, change, expected", REPLACED, ids=[r[0] for r in REPLACED])
def test_other_changes_delete_and_add_with_a_warning(ns, backend, what, before, change, expected):
    replaced(ns, backend, what, before, change, expected)


@pytest.mark.parametrize("what, before, change, expected, _refusal", LAMINAR_REPLACED,
                         ids=[r[0] for r in LAMINAR_REPLACED])
def test_pyroute2_adds_and_removes_laminar_by_delete_and_add(ns, what, before, change, expected, _refusal):
    replaced(ns, "pyroute2", what, before, change, expected)


@IP_SIDES
@pytest.mark.parametrize("what, before, change, expected, refusal", LAMINAR_REPLACED,
                         ids=[r[0] for r in LAMINAR_REPLACED])
def test_iproute2_adds_and_removes_laminar_only_where_ip_knows_it(
        ns, ip_knows_laminar, what, before, change, expected, refusal):
    on_side(ip_knows_laminar)
    if ip_knows_laminar:
        replaced(ns, "iproute2", what, before, change, expected)
    else:
        run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "flags": before, "dev": "e1"}])
        rejected(ns, "iproute2", [dict({"address": "198.18.1.1"}, **change)], *refusal)


def test_fields_left_out_are_left_as_they_are(ns, backend):
    run(ns, backend, [{"address": "198.18.1.1", "id": 7, "flags": ["subflow", "backup"], "dev": "e1"}])
    result = run(ns, backend, [{"address": "198.18.1.1"}])
    assert (result["changed"], result["calls"]) == (False, [])
    result = run(ns, backend, [{"address": "198.18.1.1", "flags": []}])
    assert result["calls"] == [("delete", "198.18.1.1"), ("add", "198.18.1.1")]
    assert oracle(ns) == {("198.18.1.1", 0): (7, "e1", 0)}


# --- exclusive and absent -----------------------------------------------------------------

def test_exclusive_makes_the_list_the_whole_state(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]},
                         {"address": "198.18.1.2", "id": 2, "flags": ["signal"]},
                         {"address": "198.18.2.1", "id": 3, "flags": ["subflow"]}])
    wanted = [{"address": "198.18.1.1", "flags": ["subflow", "backup"]},
              {"address": "198.18.2.1", "flags": ["signal"]},
              {"address": "198.18.2.9", "id": 9, "flags": ["subflow"]}]
    result = run(ns, backend, wanted, exclusive=True)
    assert result["changes"] == [
        "delete endpoint 198.18.1.2 id 2 signal: not listed (exclusive)",
        "delete endpoint 198.18.2.1 id 3 subflow: to add it again: flags subflow -> signal",
        "change endpoint 198.18.1.1 id 1 subflow in place: flags subflow -> subflow backup",
        "add endpoint 198.18.2.1 id 3 signal",
        "add endpoint 198.18.2.9 id 9 subflow",
    ]
    assert oracle(ns) == {("198.18.1.1", 0): (1, None, bits("subflow", "backup")),
                          ("198.18.2.1", 0): (3, None, bits("signal")),
                          ("198.18.2.9", 0): (9, None, bits("subflow"))}
    assert not run(ns, backend, wanted, exclusive=True)["changed"]


def test_without_exclusive_other_endpoints_stay(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.2", "id": 2, "flags": ["signal"]}])
    run(ns, backend, [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]}])
    assert oracle(ns) == {("198.18.1.1", 0): (1, None, 2), ("198.18.1.2", 0): (2, None, 1)}


def test_absent_removes_by_address_by_port_and_by_id(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]},
                         {"address": "198.18.1.1", "id": 2, "port": 8080, "flags": ["signal"]},
                         {"address": "198.18.1.1", "id": 3, "port": 8081, "flags": ["signal"]},
                         {"address": "198.18.2.1", "id": 4, "flags": ["signal"]},
                         {"address": "198.18.2.2", "id": 5, "flags": ["signal"]}])
    result = run(ns, backend, [{"address": "198.18.1.1", "port": 8080}, {"id": 4}], state="absent")
    assert result["changes"] == ["delete endpoint 198.18.1.1 port 8080 id 2 signal: state=absent",
                                 "delete endpoint 198.18.2.1 id 4 signal: state=absent"]
    assert sorted(oracle(ns)) == [("198.18.1.1", 0), ("198.18.1.1", 8081), ("198.18.2.2", 0)]
    # An address without a port removes it with every port.
    run(ns, backend, [{"address": "198.18.1.1"}], state="absent")
    assert sorted(oracle(ns)) == [("198.18.2.2", 0)]
    again = run(ns, backend, [{"address": "198.18.1.1"}, {"id": 4}], state="absent")
    assert (again["changed"], again["calls"]) == (False, [])


def test_absent_with_an_address_and_another_endpoints_id_removes_nothing(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 1}, {"address": "198.18.1.2", "id": 2}])
    result = run(ns, backend, [{"address": "198.18.1.1", "id": 2}], state="absent")
    assert not result["changed"] and len(oracle(ns)) == 2


# --- check mode, and the batch applied whole ----------------------------------------------

SCENARIOS = {
    "add": ([], [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"], "dev": "e1"}], False),
    "in place": ([{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]}],
                 [{"address": "198.18.1.1", "flags": ["subflow", "backup"]}], False),
    "delete and add": ([{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]}],
                       [{"address": "198.18.1.1", "flags": ["signal"]}], False),
    "exclusive": ([{"address": "198.18.1.1", "id": 1, "flags": ["subflow"]},
                   {"address": "198.18.1.2", "id": 2, "flags": ["signal"]}],
                  [{"address": "198.18.2.1", "id": 1, "flags": ["signal"], "dev": "e2"}], True),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_check_mode_changes_nothing_and_predicts_the_real_run(ns, backend, scenario):
    setup, wanted, exclusive = SCENARIOS[scenario]
    if setup:
        run(ns, "pyroute2", setup)
    before = oracle(ns)
    predicted = run(ns, backend, wanted, exclusive=exclusive, check_mode=True)
    assert predicted["calls"] == [] and oracle(ns) == before
    real = run(ns, backend, wanted, exclusive=exclusive)
    assert predicted["changed"] and real["changed"]
    for key in ("changes", "warnings", "endpoints", "diff"):
        assert predicted[key] == real[key], key


def test_check_mode_leaves_the_id_the_kernel_will_choose_unknown(ns, backend):
    predicted = run(ns, backend, [{"address": "198.18.1.1", "flags": ["subflow"]}], check_mode=True)
    real = run(ns, backend, [{"address": "198.18.1.1", "flags": ["subflow"]}])
    assert predicted["changes"] == real["changes"] == ["add endpoint 198.18.1.1 subflow (id chosen by the kernel)"]
    assert predicted["endpoints"][0]["id"] is None
    assert real["endpoints"][0]["id"] == oracle(ns)[("198.18.1.1", 0)][0]
    assert dict(predicted["endpoints"][0], id=None) == dict(real["endpoints"][0], id=None)


def test_a_refused_step_undoes_the_steps_before_it(ns, backend):
    """192.0.2.7 is not on this host, so the kernel cannot listen on its port
    (EADDRNOTAVAIL) after a delete, an in-place change and an add already went through."""
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 1, "flags": ["subflow"], "dev": "e1"},
                         {"address": "198.18.1.2", "id": 2, "flags": ["signal"]}])
    before = oracle(ns)
    wanted = [{"address": "198.18.1.1", "flags": ["subflow", "backup"]},
              {"address": "198.18.2.1", "id": 3, "flags": ["subflow"]},
              {"address": "192.0.2.7", "id": 4, "port": 8080, "flags": ["signal"]}]
    error = rejected(ns, backend, wanted, "EADDRNOTAVAIL", "were undone", exclusive=True)
    assert "delete endpoint 198.18.1.2 id 2 signal" in str(error)
    assert oracle(ns) == before


def test_a_missing_dev_is_refused_before_anything(ns, backend):
    run(ns, "pyroute2", [{"address": "198.18.1.2", "id": 2, "flags": ["signal"]}])
    rejected(ns, backend, [{"address": "198.18.1.1", "dev": "nosuch0", "flags": ["subflow"]}],
             "dev='nosuch0'", "does not exist in netns " + ns.name, exclusive=True)


BAD = [
    ({"address": "198.18.1.300"}, "not an IPv4 or IPv6 address"),
    ({"address": "198.18.1.1/24"}, "without a prefix length"),
    ({"address": "198.18.1.1", "flags": ["sgnal"]}, "flag 'sgnal' is unknown"),
    ({"address": "198.18.1.1", "flags": ["implicit"]}, "set by the kernel only"),
    ({"address": "198.18.1.1", "flags": ["signal", "fullmesh"]}, "signal and fullmesh cannot be combined"),
    ({"address": "198.18.1.1", "port": 80, "flags": ["subflow"]}, "port=80 needs the signal flag"),
    ({"address": "198.18.1.1", "port": 80}, "port=80 needs the signal flag"),
    ({"address": "198.18.1.1", "port": 70000, "flags": ["signal"]}, "port=70000 is out of range"),
    ({"address": "198.18.1.1", "id": 0}, "id=0 is out of range: endpoint ids are 1 to 255"),
    ({"address": "198.18.1.1", "id": 256}, "id=256 is out of range"),
    ({"address": "198.18.1.1", "dev": "a/b"}, "dev='a/b' is not a valid interface name"),
    ({"address": "198.18.1.1", "id": 2}, "id 2 is wanted for 198.18.1.1 but 198.18.1.2 id 2 signal keeps it"),
    ({"id": 5}, "address is required with state=present"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m for _s, m in BAD])
def test_each_bad_input_is_refused_with_the_value_and_the_rule(ns, backend, spec, message):
    run(ns, "pyroute2", [{"address": "198.18.1.2", "id": 2, "flags": ["signal"]}])
    rejected(ns, backend, [{"address": "198.18.2.1", "flags": ["subflow"]}, spec], "endpoints[1].", message)


def test_the_same_endpoint_or_id_twice_is_refused(ns, backend):
    rejected(ns, backend, [{"address": "198.18.1.1"}, {"address": "198.18.1.1", "flags": ["subflow"]}],
             "endpoints[1].address 198.18.1.1 is listed twice (also endpoints[0])")
    rejected(ns, backend, [{"address": "198.18.1.1", "id": 3}, {"address": "198.18.1.2", "id": 3}],
             "endpoints[1].id 3 is listed twice")


def test_a_namespace_that_does_not_exist_is_refused_and_not_created(netns, backend):
    with pytest.raises(ValidationError) as caught:
        open_backend(backend, "mptcp-test-missing", netns.ip_runner, IP)
    assert "netns 'mptcp-test-missing' does not exist" in str(caught.value)
    assert not os.path.exists("/run/netns/mptcp-test-missing")


def test_both_backends_give_identical_results(make_netns):
    """The same sequence in two namespaces, one per backend: every result is the same."""
    results = {}
    for backend in BACKENDS:
        other = make_netns()
        other.add_interface("e1", "198.18.1.1/24")
        steps = [
            ([{"address": "198.18.1.1", "flags": ["signal"], "dev": "e1"},
              {"address": "198.18.1.2", "id": 4, "flags": ["subflow", "fullmesh"]}], False),
            ([{"address": "198.18.1.2", "flags": ["subflow", "backup"]}], False),
            ([{"address": "198.18.1.1", "flags": ["subflow"]},
              {"address": "198.18.1.3", "port": 99, "flags": ["signal"]}], True),
        ]
        results[backend] = []
        for wanted, exclusive in steps:
            try:
                result = run(other, backend, wanted, exclusive=exclusive)
            except MptcpError as exc:
                result = {"error": str(exc)}
            result.pop("backend", None)
            results[backend].append((json.loads(json.dumps(result).replace(other.name, "NS")), oracle(other)))
    for step, (first, second) in enumerate(zip(results["pyroute2"], results["iproute2"])):
        assert first[1] == second[1], step
        if "error" not in first[0]:
            assert first[0] == second[0], step


# --- through Ansible ----------------------------------------------------------------------

def test_module_applies_reports_and_is_idempotent(ns, backend, module_runner):
    args = {"netns": ns.name, "backend": backend, "endpoints": [
        {"address": "198.18.1.1", "id": 1, "flags": ["signal"], "dev": "e1"},
        {"address": "2001:db8:1::1", "id": 2, "flags": ["subflow", "backup"]}]}
    first = module_runner("mptcp_endpoint", args)
    assert first["changed"] is True and first["backend"] == backend
    assert first["changes"] == ["add endpoint 198.18.1.1 id 1 signal dev e1",
                                "add endpoint 2001:db8:1::1 id 2 subflow backup"]
    assert first["endpoints"] == [
        {"id": 1, "address": "198.18.1.1", "port": None, "dev": "e1", "flags": ["signal"]},
        {"id": 2, "address": "2001:db8:1::1", "port": None, "dev": None, "flags": ["subflow", "backup"]}]
    assert first["diff"]["before"] == {"endpoints": []}
    assert first["diff"]["after"] == {"endpoints": ["198.18.1.1 id 1 signal dev e1",
                                                    "2001:db8:1::1 id 2 subflow backup"]}
    assert oracle(ns) == {("198.18.1.1", 0): (1, "e1", 1), ("2001:db8:1::1", 0): (2, None, 6)}
    second = module_runner("mptcp_endpoint", args)
    assert second["changed"] is False and second["changes"] == []
    assert oracle(ns) == {("198.18.1.1", 0): (1, "e1", 1), ("2001:db8:1::1", 0): (2, None, 6)}


@IP_SIDES
def test_module_with_backend_auto_runs_ip_where_it_can_and_pyroute2_for_a_flag_ip_lacks(
        ns, module_runner, ip_knows_laminar):
    """backend=auto takes iproute2 where this `ip` can set every flag asked for or held by an
    endpoint in the kernel and change flags in place, and pyroute2 where it cannot (laminar,
    on iproute2 before 6.19)."""
    on_side(ip_knows_laminar)
    laminar = laminar_by(ip_knows_laminar)
    steps = [
        ({"address": "198.18.1.1", "id": 1, "dev": "e1", "flags": ["subflow"]}, "iproute2",
         {("198.18.1.1", 0): (1, "e1", bits("subflow"))}),
        ({"address": "198.18.1.1", "flags": ["subflow", "backup"]}, "iproute2",  # in place
         {("198.18.1.1", 0): (1, "e1", bits("subflow", "backup"))}),
        ({"address": "198.18.2.1", "id": 2, "flags": ["subflow", "laminar"]}, laminar,
         {("198.18.1.1", 0): (1, "e1", bits("subflow", "backup")), ("198.18.2.1", 0): (2, None, bits("subflow", "laminar"))}),
        ({"address": "198.18.2.1", "flags": ["subflow", "laminar", "fullmesh"]}, laminar,  # in place, keeps laminar
         {("198.18.1.1", 0): (1, "e1", bits("subflow", "backup")),
          ("198.18.2.1", 0): (2, None, bits("subflow", "laminar", "fullmesh"))}),
        # Deleting a laminar endpoint: undoing it (a later step refused) adds it back with laminar.
        ({"id": 2, "state": "absent"}, laminar, {("198.18.1.1", 0): (1, "e1", bits("subflow", "backup"))}),
        # No laminar endpoint left: ip again.
        ({"id": 1, "state": "absent"}, "iproute2", {}),
    ]
    for args, backend, expected in steps:
        result = module_runner("mptcp_endpoint", dict(args, netns=ns.name))
        assert "failed" not in result, result
        assert (result["changed"], result["backend"]) == (True, backend), (args, result)
        assert oracle(ns) == expected, args
    limits = module_runner("mptcp_limits", {"netns": ns.name, "subflows": 3})
    assert (limits["changed"], limits["backend"]) == (True, "iproute2")
    assert ns.limits()["subflows"] == 3


LAMINAR_KEPT_BY_AUTO = [
    ("laminar taken off", {"flags": ["subflow"]}, (7, "e1", bits("subflow"))),
    ("dev changed", {"dev": "e2"}, (7, "e2", bits("subflow", "laminar"))),
]


@IP_SIDES
@pytest.mark.parametrize("what, change, expected", LAMINAR_KEPT_BY_AUTO, ids=[c[0] for c in LAMINAR_KEPT_BY_AUTO])
def test_module_with_backend_auto_replaces_a_laminar_endpoint_where_ip_cannot_set_laminar(
        ns, module_runner, ip_knows_laminar, what, change, expected):
    """The plan deletes the endpoint and adds it again with laminar: auto counts the flags
    of the endpoints the kernel holds, not only those asked for."""
    on_side(ip_knows_laminar)
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "dev": "e1", "flags": ["subflow", "laminar"]}])
    result = module_runner("mptcp_endpoint", dict({"netns": ns.name, "address": "198.18.1.1"}, **change))
    assert "failed" not in result, result["msg"]
    assert result["backend"] == laminar_by(ip_knows_laminar)
    assert oracle(ns) == {("198.18.1.1", 0): expected}


@IP_SIDES
def test_module_with_backend_auto_deletes_a_laminar_endpoint_it_could_add_back(ns, module_runner, ip_knows_laminar):
    """An exclusive run deletes a laminar endpoint before a step that may be refused:
    undoing the delete needs a backend that can add laminar back."""
    on_side(ip_knows_laminar)
    run(ns, "pyroute2", [{"address": "198.18.1.1", "id": 7, "dev": "e1", "flags": ["subflow", "laminar"]}])
    result = module_runner("mptcp_endpoint", {"netns": ns.name, "exclusive": True,
                                              "endpoints": [{"address": "198.18.2.1", "flags": ["signal"]}]})
    assert "failed" not in result, result["msg"]
    assert result["backend"] == laminar_by(ip_knows_laminar)
    assert list(oracle(ns)) == [("198.18.2.1", 0)]


def test_module_check_mode_predicts_and_changes_nothing(ns, backend, module_runner):
    module_runner("mptcp_endpoint", {"netns": ns.name, "address": "198.18.1.1", "id": 1, "flags": ["subflow"]})
    args = {"netns": ns.name, "backend": backend, "address": "198.18.1.1", "flags": ["signal"]}
    predicted = module_runner("mptcp_endpoint", args, check_mode=True)
    assert oracle(ns) == {("198.18.1.1", 0): (1, None, 2)}
    real = module_runner("mptcp_endpoint", args)
    assert predicted["changed"] is real["changed"] is True
    for key in ("changes", "warnings", "endpoints", "diff"):
        assert predicted[key] == real[key], key
    assert "deleted and added again (flags subflow -> signal)" in real["warnings"][0]
    assert oracle(ns) == {("198.18.1.1", 0): (1, None, 1)}


def test_module_refuses_bad_input_and_leaves_the_namespace(ns, backend, module_runner):
    module_runner("mptcp_endpoint", {"netns": ns.name, "address": "198.18.1.1", "id": 1, "flags": ["subflow"]})
    before = oracle(ns)
    result = module_runner("mptcp_endpoint", {"netns": ns.name, "backend": backend, "exclusive": True,
                                              "endpoints": [{"address": "198.18.2.1", "flags": ["signal", "fullmesh"]}]})
    assert result["failed"] is True
    assert result["msg"] == ("endpoints[0].flags=['signal', 'fullmesh']: signal and fullmesh cannot be "
                             "combined (the kernel rejects it: fullmesh applies to subflows this host opens)")
    assert oracle(ns) == before


def test_module_removes_by_id_and_then_reports_nothing_to_do(ns, backend, module_runner):
    module_runner("mptcp_endpoint", {"netns": ns.name, "address": "198.18.1.1", "id": 9, "flags": ["subflow"]})
    args = {"netns": ns.name, "backend": backend, "state": "absent", "id": 9}
    first = module_runner("mptcp_endpoint", args)
    assert first["changed"] is True and first["changes"] == ["delete endpoint 198.18.1.1 id 9 subflow: state=absent"]
    assert oracle(ns) == {}
    assert module_runner("mptcp_endpoint", args)["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"address": "198.18.1.1", "endpoints": []}, "parameters are mutually exclusive: endpoints|address"),
    ({"state": "absent", "exclusive": True, "id": 1}, "exclusive=true only applies to state=present"),
    ({"flags": ["subflow"]}, "one of the following is required: endpoints, address, id"),
    ({"address": "198.18.1.1", "backend": "netlink"}, "value of backend must be one of: auto, pyroute2, iproute2"),
])
def test_module_argument_rules(ns, module_runner, args, message):
    result = module_runner("mptcp_endpoint", dict(args, netns=ns.name))
    assert result["failed"] is True and message in result["msg"]


def test_module_fails_clearly_on_a_missing_namespace(backend, module_runner):
    result = module_runner("mptcp_endpoint", {"netns": "mptcp-test-nowhere", "backend": backend,
                                              "address": "198.18.1.1"})
    assert result["failed"] is True
    assert result["msg"].startswith("netns 'mptcp-test-nowhere' does not exist")
    assert not os.path.exists("/run/netns/mptcp-test-nowhere")


def test_the_examples_run_as_written(netns, make_netns, examples_runner):
    """EXAMPLES as a play inside the test namespace (which gets an eth1), with the
    namespace `blue` of the examples replaced by one of the test's own."""
    netns.add_interface("eth1", "192.0.2.10/24")
    blue = make_netns()
    proc = examples_runner("mptcp_endpoint", [("netns: blue", "netns: " + blue.name)], inside_netns=netns.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # All five report changed: the last one, in check mode, finds the drift it is for.
    assert "changed=5" in proc.stdout and "failed=0" in proc.stdout
    assert oracle(netns) == {}
    assert oracle(blue) == {("198.51.100.2", 0): (1, None, bits("signal")),
                            ("2001:db8::2", 0): (2, None, bits("subflow", "fullmesh"))}
