"""Properties of the endpoint planner and the batch that applies it, for random kernel
states and requests, against the in-memory model of the kernel's rules (pm_kernel_model.py
beside this file): a run reaches exactly what was asked, check mode predicts the real run,
a second run changes nothing, and a step the kernel refuses mid-batch leaves the endpoints
as they were. tests/kernel/test_pm_plan_on_the_kernel.py runs a few of these examples
against Linux itself."""

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_endpoints, ensure_limits
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import MAX_LIMIT, validate_endpoints, validate_limits
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.pm_kernel_model import (
    CAPABILITIES,
    KernelModel,
    expected_state,
    held,
    reaches,
    scenarios,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BACKENDS = st.sampled_from(sorted(CAPABILITIES))


class Case:
    """A scenario with its request validated (an invalid one is not an example here: the
    bad-input table covers those), and how to run it on a model of the kernel."""

    def __init__(self, scenario, backend):
        self.current, (self.state, self.exclusive, specs) = scenario
        self.backend = backend
        try:
            self.wanted = validate_endpoints(specs, self.state)
        except ValidationError:
            assume(False)

    def model(self, **options):
        return KernelModel(self.current, self.backend, **options)

    def run(self, model, check_mode=False):
        return ensure_endpoints(model, self.wanted, self.state, self.exclusive, check_mode, "model")

    def expected(self):
        return expected_state(self.current, self.wanted, self.state, self.exclusive)


def assert_restored(endpoints, before):
    """The endpoints are those `before` the batch; implicit ones deleted on the way stay
    deleted (the kernel makes them again when a connection needs one)."""
    assert held(e for e in endpoints if "implicit" not in e["flags"]) == held(e for e in before if "implicit" not in e["flags"])
    left = held(e for e in before if "implicit" in e["flags"])
    assert all(left.get(key) == value for key, value in held(e for e in endpoints if "implicit" in e["flags"]).items())


@SETTINGS
@given(scenarios(), BACKENDS)
def test_a_run_reaches_exactly_what_was_asked_and_a_second_changes_nothing(scenario, backend):
    case = Case(scenario, backend)
    model = case.model()
    try:
        result = case.run(model)
    except ValidationError:
        event("refused before anything")
        assert model.writes == 0 and held(model.endpoints) == held(case.current)
        return
    except MptcpError as exc:
        # The one refusal the planner cannot foresee: a port on an address not on the host.
        event("the kernel refused a step")
        assert "EADDRNOTAVAIL" in str(exc) and "UNDO FAILED" not in str(exc), str(exc)
        assert_restored(model.endpoints, case.current)
        return
    event("applied, %s step(s)" % min(len(result["changes"]), 4))
    assert reaches(model.endpoints, case.expected()), (model.endpoints, result)
    assert held(result["endpoints"]) == held(model.endpoints)
    assert result["changed"] is (model.writes > 0)
    writes = model.writes
    again = case.run(model)
    assert again["changed"] is False and again["changes"] == [] and again["warnings"] == []
    assert model.writes == writes


@SETTINGS
@given(scenarios(), BACKENDS)
def test_check_mode_predicts_the_real_run_and_touches_nothing(scenario, backend):
    case = Case(scenario, backend)
    checked, real = case.model(), case.model()
    try:
        predicted = case.run(checked, check_mode=True)
    except ValidationError as exc:
        predicted = exc
    assert checked.writes == 0 and held(checked.endpoints) == held(case.current)
    try:
        done = case.run(real)
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
@given(scenarios(), BACKENDS, st.data())
def test_a_step_refused_mid_batch_leaves_the_endpoints_as_they_were(scenario, backend, data):
    """The kernel refuses write number `refused`: every step before it is undone."""
    case = Case(scenario, backend)
    try:
        steps = len(case.run(case.model(), check_mode=True)["changes"])
    except ValidationError:
        steps = 0
    assume(steps > 0)
    refused = data.draw(st.integers(min_value=0, max_value=steps - 1), label="refused")
    model = case.model(refuse_write=refused)
    with pytest.raises(MptcpError) as caught:
        case.run(model)
    message = str(caught.value)
    assume("EADDRNOTAVAIL" not in message)
    assert "refused on purpose" in message and "UNDO FAILED" not in message, message
    assert ("were undone" in message) is (refused > 0)
    assert_restored(model.endpoints, case.current)


LIMITS = st.integers(min_value=0, max_value=MAX_LIMIT)


@SETTINGS
@given(LIMITS, LIMITS, st.one_of(st.none(), LIMITS), st.one_of(st.none(), LIMITS))
def test_limits_reach_what_was_asked_and_keep_what_was_left_out(subflows, accepted, want_subflows, want_accepted):
    models = [KernelModel(), KernelModel()]
    for model in models:
        model.limits = {"subflows": subflows, "add_addr_accepted": accepted}
    wanted = validate_limits(want_subflows, want_accepted)
    predicted = ensure_limits(models[0], wanted, True)
    result = ensure_limits(models[1], wanted, False)
    expected = {"subflows": subflows if want_subflows is None else want_subflows,
                "add_addr_accepted": accepted if want_accepted is None else want_accepted}
    assert models[1].limits == expected == result["limits"]
    assert result["changed"] is (expected != {"subflows": subflows, "add_addr_accepted": accepted})
    assert (predicted["limits"], predicted["changed"], models[0].writes) == (result["limits"], result["changed"], 0)
    assert ensure_limits(models[1], wanted, False)["changed"] is False
