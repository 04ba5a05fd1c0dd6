"""Properties of the endpoint planner and the batch that applies it, for random kernel
states and requests, against the in-memory model of the kernel's rules (tests/
pm_kernel_model.py): a run reaches exactly what was asked, check mode predicts the real
run, a second run changes nothing, and a step the kernel refuses mid-batch leaves the
endpoints as they were. tests/kernel/test_pm_plan_on_the_kernel.py runs a few of these
examples against Linux itself."""

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.pm_ensure import ensure_endpoints, ensure_limits
from ansible_collections.mptcp.linux.plugins.module_utils.pm_model import MAX_LIMIT, validate_endpoints, validate_limits

from pm_kernel_model import (
    CAPABILITIES,
    KernelModel,
    expected_state,
    held,
    reaches,
    scenarios,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BACKENDS = st.sampled_from(sorted(CAPABILITIES))


def validated(request):
    state, exclusive, specs = request
    try:
        return validate_endpoints(specs, state), state, exclusive
    except ValidationError:
        assume(False)


def run(model, wanted, state, exclusive, check_mode=False):
    return ensure_endpoints(model, wanted, state, exclusive, check_mode, "model")


def assert_restored(endpoints, before):
    """The endpoints are those `before` the batch; implicit ones deleted on the way stay
    deleted (the kernel makes them again when a connection needs one)."""
    assert held(e for e in endpoints if "implicit" not in e["flags"]) == held(e for e in before if "implicit" not in e["flags"])
    left = held(e for e in before if "implicit" in e["flags"])
    assert all(left.get(key) == value for key, value in held(e for e in endpoints if "implicit" in e["flags"]).items())


@SETTINGS
@given(scenarios(), BACKENDS)
def test_a_run_reaches_exactly_what_was_asked_or_changes_nothing(scenario, backend):
    current, request = scenario
    wanted, state, exclusive = validated(request)
    model = KernelModel(current, backend)
    try:
        result = run(model, wanted, state, exclusive)
    except ValidationError:
        event("refused before anything")
        assert model.writes == 0 and held(model.endpoints) == held(current)
        return
    except MptcpError as exc:
        # The one refusal the planner cannot foresee: a port on an address not on the host.
        event("the kernel refused a step")
        assert "EADDRNOTAVAIL" in str(exc) and "UNDO FAILED" not in str(exc), str(exc)
        assert_restored(model.endpoints, current)
        return
    event("applied, %s step(s)" % min(len(result["changes"]), 4))
    assert reaches(model.endpoints, expected_state(current, wanted, state, exclusive)), (model.endpoints, result)
    assert held(result["endpoints"]) == held(model.endpoints)
    assert result["changed"] is (model.writes > 0)


@SETTINGS
@given(scenarios(), BACKENDS)
def test_check_mode_predicts_the_real_run_and_touches_nothing(scenario, backend):
    current, request = scenario
    wanted, state, exclusive = validated(request)
    checked, real = KernelModel(current, backend), KernelModel(current, backend)
    try:
        predicted = run(checked, wanted, state, exclusive, check_mode=True)
    except ValidationError as exc:
        predicted = exc
    assert checked.writes == 0 and held(checked.endpoints) == held(current)
    try:
        done = run(real, wanted, state, exclusive)
    except ValidationError as exc:
        assert str(exc) == str(predicted)
        return
    except MptcpError as exc:
        assume("EADDRNOTAVAIL" not in str(exc))
        raise
    assert not isinstance(predicted, Exception), predicted
    for key in ("changed", "changes", "warnings", "backend"):
        assert predicted[key] == done[key], key
    real_by_key = dict(((e["address"], e["port"] or 0), e) for e in done["endpoints"])
    assert sorted(real_by_key) == sorted((e["address"], e["port"] or 0) for e in predicted["endpoints"])
    for endpoint in predicted["endpoints"]:
        found = real_by_key[(endpoint["address"], endpoint["port"] or 0)]
        assert endpoint == (found if endpoint["id"] is not None else dict(found, id=None))
    assert predicted["diff"]["before"] == done["diff"]["before"]


@SETTINGS
@given(scenarios(), BACKENDS)
def test_a_second_run_changes_nothing(scenario, backend):
    current, request = scenario
    wanted, state, exclusive = validated(request)
    model = KernelModel(current, backend)
    try:
        run(model, wanted, state, exclusive)
    except MptcpError:
        assume(False)
    writes = model.writes
    again = run(model, wanted, state, exclusive)
    assert again["changed"] is False and again["changes"] == [] and again["warnings"] == []
    assert model.writes == writes


@SETTINGS
@given(scenarios(), BACKENDS, st.data())
def test_a_step_refused_mid_batch_leaves_the_endpoints_as_they_were(scenario, backend, data):
    """The kernel refuses write number `refused`: every step before it is undone."""
    current, request = scenario
    wanted, state, exclusive = validated(request)
    try:
        planned = run(KernelModel(current, backend), wanted, state, exclusive, check_mode=True)
    except ValidationError:
        assume(False)
    assume(planned["changes"])
    refused = data.draw(st.integers(min_value=0, max_value=len(planned["changes"]) - 1), label="refused")
    model = KernelModel(current, backend, refuse_write=refused)
    try:
        run(model, wanted, state, exclusive)
    except MptcpError as exc:
        message = str(exc)
    else:
        raise AssertionError("write %d was not refused" % refused)
    assume("EADDRNOTAVAIL" not in message)
    assert "refused on purpose" in message and "UNDO FAILED" not in message, message
    assert ("were undone" in message) is (refused > 0)
    assert_restored(model.endpoints, current)

LIMITS = st.integers(min_value=0, max_value=MAX_LIMIT)


@SETTINGS
@given(LIMITS, LIMITS, st.one_of(st.none(), LIMITS), st.one_of(st.none(), LIMITS))
def test_limits_reach_what_was_asked_and_keep_what_was_left_out(subflows, accepted, want_subflows, want_accepted):
    model = KernelModel()
    model.limits = {"subflows": subflows, "add_addr_accepted": accepted}
    wanted = validate_limits(want_subflows, want_accepted)
    checked = KernelModel()
    checked.limits = dict(model.limits)
    predicted = ensure_limits(checked, wanted, True)
    result = ensure_limits(model, wanted, False)
    expected = {"subflows": subflows if want_subflows is None else want_subflows,
                "add_addr_accepted": accepted if want_accepted is None else want_accepted}
    assert model.limits == expected == result["limits"]
    assert result["changed"] is (expected != {"subflows": subflows, "add_addr_accepted": accepted})
    assert (predicted["limits"], predicted["changed"], checked.writes) == (result["limits"], result["changed"], 0)
    assert ensure_limits(model, wanted, False)["changed"] is False
