"""Applying a batch whole or not at all, and checking what the kernel holds afterwards,
against a fake kernel that can refuse a step or drop flag bits it does not know (as
kernels before 6.18 do with laminar)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import apply_actions
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import (
    endpoint_flags_needed,
    endpoints_mismatch,
    ensure_endpoints,
    ensure_limits,
    ensure_path_manager,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    Capabilities,
    KERNEL_IN_PLACE_FLAGS,
    USER_FLAGS,
    make_endpoint,
    validate_endpoints,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.plan import plan_endpoints


class FakeKernel:
    name = "fake"

    def __init__(self, endpoints=(), refuse=(), drop_flags=()):
        self.endpoints = [dict(e) for e in endpoints]
        self.limits = {"subflows": 2, "add_addr_accepted": 0}
        self.refuse = set(refuse)  # (op, address): the kernel refuses those steps
        self.drop_flags = set(drop_flags)
        self.log = []
        self.next_id = max([e["id"] for e in self.endpoints] + [0]) + 1

    def _step(self, op, address):
        self.log.append((op, address))
        if (op, address) in self.refuse:
            raise MptcpError("%s %s failed: the kernel said File exists (EEXIST)" % (op, address))

    def capabilities(self):
        return Capabilities(USER_FLAGS, KERNEL_IN_PLACE_FLAGS, "fake")

    def close(self):
        pass

    def read_endpoints(self):
        return [dict(e) for e in self.endpoints]

    def read_limits(self):
        return dict(self.limits)

    def links(self):
        return {"lo", "eth0"}

    def add_endpoint(self, endpoint):
        self._step("add", endpoint["address"])
        new = dict(endpoint, flags=[f for f in endpoint["flags"] if f not in self.drop_flags])
        if new["id"] is None:
            new["id"], self.next_id = self.next_id, self.next_id + 1
        self.endpoints.append(new)

    def delete_endpoint(self, endpoint):
        self._step("delete", endpoint["address"])
        self.endpoints = [e for e in self.endpoints if e["id"] != endpoint["id"]]

    def set_endpoint_flags(self, endpoint, flags):
        self._step("set", endpoint["address"])
        for found in self.endpoints:
            if found["id"] == endpoint["id"]:
                kept = [f for f in found["flags"] if f not in KERNEL_IN_PLACE_FLAGS]
                found["flags"] = sorted(set(kept) | (set(flags) & KERNEL_IN_PLACE_FLAGS),
                                        key=USER_FLAGS.index)

    def set_limits(self, limits):
        self._step("limits", None)
        self.limits = dict(limits)


START = [make_endpoint("10.0.0.1", 1, None, None, ["subflow"]),
         make_endpoint("10.0.0.2", 2, None, None, ["signal"])]
WANTED = [{"address": "10.0.0.1", "flags": ["subflow", "backup"]},
          {"address": "10.0.0.3", "flags": ["signal"]},
          {"address": "10.0.0.4", "id": 9, "flags": ["subflow"]}]


def run(kernel, wanted=None, exclusive=True, check_mode=False):
    wanted = validate_endpoints(WANTED if wanted is None else wanted, "present")
    return ensure_endpoints(kernel, wanted, "present", exclusive, check_mode)


def test_a_batch_applies_in_order_and_reports_what_the_kernel_holds():
    kernel = FakeKernel(START)
    result = run(kernel)
    assert kernel.log == [("delete", "10.0.0.2"), ("set", "10.0.0.1"), ("add", "10.0.0.4"), ("add", "10.0.0.3")]
    assert result["changed"] is True
    assert result["endpoints"] == [  # in id order
        make_endpoint("10.0.0.1", 1, None, None, ["subflow", "backup"]),
        make_endpoint("10.0.0.3", 3, None, None, ["signal"]),
        make_endpoint("10.0.0.4", 9, None, None, ["subflow"])]


@pytest.mark.parametrize("refused", [("delete", "10.0.0.2"), ("set", "10.0.0.1"), ("add", "10.0.0.4"),
                                     ("add", "10.0.0.3")])
def test_a_refused_step_undoes_every_step_before_it_in_reverse(refused):
    kernel = FakeKernel(START, refuse=[refused])
    with pytest.raises(MptcpError) as caught:
        run(kernel)
    assert sorted(kernel.read_endpoints(), key=lambda e: e["id"]) == START
    message = str(caught.value)
    assert "%s %s failed: the kernel said File exists (EEXIST)" % refused in message
    done = kernel.log[:kernel.log.index(refused)]
    if done:
        assert "The %d step(s) already done were undone" % len(done) in message
    else:
        assert message.endswith("Nothing had been changed.")


def test_undo_reads_back_the_id_the_kernel_chose():
    kernel = FakeKernel(START, refuse=[("add", "10.0.0.5")])
    wanted = [{"address": "10.0.0.3"}, {"address": "10.0.0.5", "flags": ["signal"]}]
    with pytest.raises(MptcpError):
        run(kernel, wanted, exclusive=False)
    assert kernel.read_endpoints() == START
    assert ("delete", "10.0.0.3") in kernel.log


def test_a_failed_undo_is_reported_loudly():
    kernel = FakeKernel(START, refuse=[("add", "10.0.0.9"), ("add", "10.0.0.2")])
    wanted = [{"address": "10.0.0.1", "flags": ["subflow"]}, {"address": "10.0.0.9", "id": 2}]
    with pytest.raises(MptcpError) as caught:
        run(kernel, wanted, exclusive=True)
    assert "UNDO FAILED, the namespace is left half changed: undoing 'delete endpoint 10.0.0.2 id 2 signal" \
        in str(caught.value)


def test_flags_the_kernel_dropped_undo_the_batch_and_say_so():
    kernel = FakeKernel(START, drop_flags={"laminar"})
    with pytest.raises(MptcpError) as caught:
        run(kernel, [{"address": "10.0.0.5", "id": 5, "flags": ["subflow", "laminar"]}], exclusive=False)
    assert str(caught.value) == (
        "after applying, the kernel shows: 10.0.0.5 id 5 subflow instead of 10.0.0.5 id 5 subflow "
        "laminar (it dropped flag laminar, which this kernel does not know). The 1 step(s) already "
        "done were undone: add endpoint 10.0.0.5 id 5 subflow laminar.")
    assert kernel.read_endpoints() == START


def test_check_mode_touches_nothing_and_returns_the_plan():
    kernel = FakeKernel(START)
    predicted = run(kernel, check_mode=True)
    assert kernel.log == [] and kernel.read_endpoints() == START
    assert predicted["changes"] == [
        "delete endpoint 10.0.0.2 id 2 signal: not listed (exclusive)",
        "change endpoint 10.0.0.1 id 1 subflow in place: flags subflow -> subflow backup",
        "add endpoint 10.0.0.4 id 9 subflow",
        "add endpoint 10.0.0.3 signal (id chosen by the kernel)"]
    assert predicted["endpoints"][-1] == make_endpoint("10.0.0.3", None, None, None, ["signal"])


def test_endpoints_mismatch_ignores_kernel_numbering_and_new_implicit_endpoints():
    planned = [make_endpoint("10.0.0.1", None, None, None, ["subflow"])]
    assert endpoints_mismatch(planned, [make_endpoint("10.0.0.1", 7, None, None, ["subflow"]),
                                        make_endpoint("10.0.0.8", 8, None, None, ["implicit"])]) is None
    assert endpoints_mismatch(planned, []) == "10.0.0.1 subflow is missing"
    assert endpoints_mismatch([], [make_endpoint("10.0.0.2", 2)]) == "10.0.0.2 id 2 appeared"


def test_limits_apply_and_a_refusal_leaves_them():
    kernel = FakeKernel()
    result = ensure_limits(kernel, {"subflows": 4}, False)
    assert result["limits"] == kernel.limits == {"subflows": 4, "add_addr_accepted": 0}
    assert ensure_limits(kernel, {"subflows": 4}, False)["changed"] is False
    kernel.refuse.add(("limits", None))
    with pytest.raises(MptcpError) as caught:
        ensure_limits(kernel, {"subflows": 5}, False)
    assert str(caught.value).endswith("Nothing had been changed.")
    assert kernel.limits == {"subflows": 4, "add_addr_accepted": 0}


def test_apply_actions_returns_the_steps_done():
    kernel = FakeKernel(START)
    plan = plan_endpoints(START, validate_endpoints([{"address": "10.0.0.1"}], "absent"), "absent", False,
                          kernel.capabilities())
    assert [a["line"] for a in apply_actions(kernel, plan.actions)] == ["delete endpoint 10.0.0.1 id 1 subflow: state=absent"]


def test_limits_and_endpoints_are_one_batch_undone_together():
    kernel = FakeKernel(START, refuse=[("add", "10.0.0.3")])
    wanted = validate_endpoints(WANTED, "present")
    with pytest.raises(MptcpError) as caught:
        ensure_path_manager(kernel, False, limits={"subflows": 4}, endpoints=wanted, exclusive=True)
    # The limits went first and were undone with the endpoint steps.
    assert kernel.log[0] == ("limits", None)
    assert "set limits: subflows 2 -> 4" in str(caught.value)
    assert kernel.limits == {"subflows": 2, "add_addr_accepted": 0}
    assert sorted(e["address"] for e in kernel.endpoints) == ["10.0.0.1", "10.0.0.2"]


def test_path_manager_result_and_diff_hold_both_and_check_mode_changes_nothing():
    kernel = FakeKernel(START)
    wanted = validate_endpoints(WANTED, "present")
    predicted = ensure_path_manager(kernel, True, "blue", limits={"add_addr_accepted": 1}, endpoints=wanted,
                                    exclusive=True)
    assert kernel.log == [] and kernel.limits == {"subflows": 2, "add_addr_accepted": 0}
    done = ensure_path_manager(kernel, False, "blue", limits={"add_addr_accepted": 1}, endpoints=wanted,
                               exclusive=True)
    assert predicted["changes"] == done["changes"]
    assert done["changes"][0] == "set limits: add_addr_accepted 0 -> 1"
    assert done["limits"] == {"subflows": 2, "add_addr_accepted": 1}
    assert [e["address"] for e in done["endpoints"]] == ["10.0.0.1", "10.0.0.3", "10.0.0.4"]
    assert done["diff"]["before_header"] == "MPTCP path manager before (netns blue)"
    assert done["diff"]["before"]["add_addr_accepted"] == 0 and done["diff"]["after"]["add_addr_accepted"] == 1
    assert done["diff"]["before"]["endpoints"] == ["10.0.0.1 id 1 subflow", "10.0.0.2 id 2 signal"]
    again = ensure_path_manager(kernel, False, "blue", limits={"add_addr_accepted": 1}, endpoints=wanted,
                                exclusive=True)
    assert again["changed"] is False and again["changes"] == []


def test_path_manager_leaves_alone_what_it_is_not_given():
    kernel = FakeKernel(START)
    result = ensure_path_manager(kernel, False, limits={"subflows": 3})
    assert "endpoints" not in result and "endpoints" not in result["diff"]["before"]
    assert kernel.endpoints == START
    result = ensure_path_manager(kernel, False, endpoints=[], exclusive=True)
    assert "limits" not in result and kernel.endpoints == [] and kernel.limits["subflows"] == 3


def test_endpoint_flags_needed():
    wanted = validate_endpoints([{"address": "10.0.0.1", "flags": ["subflow", "backup"]},
                                 {"address": "10.0.0.2"}], "present")
    assert endpoint_flags_needed(wanted, "present") == {"subflow", "backup"}
    assert endpoint_flags_needed(wanted, "absent") == set()
    assert endpoint_flags_needed(None, "present") is None
