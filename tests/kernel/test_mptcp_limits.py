"""mptcp_limits against the real kernel: a fresh namespace per test, both backends for
every case, `ip -n NS mptcp limits show` as the oracle (the fixture's own text parser)."""

import os
import shutil

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_limits
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import validate_limits

IP = shutil.which("ip")
BACKENDS = ["pyroute2", "iproute2"]
DEFAULTS = {"subflows": 2, "add_addr_accepted": 0}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def run(netns, backend, check_mode=False, **wanted):
    opened = open_backend(backend, netns.name, netns.ip_runner, IP)
    try:
        return ensure_limits(opened, validate_limits(**wanted), check_mode, netns.name)
    finally:
        opened.close()


def test_a_new_namespace_starts_at_the_kernel_defaults(netns, backend):
    assert netns.limits() == DEFAULTS
    result = run(netns, backend)
    assert (result["changed"], result["limits"], result["changes"]) == (False, DEFAULTS, [])


@pytest.mark.parametrize("wanted, expected", [
    ({"subflows": 4, "add_addr_accepted": 3}, {"subflows": 4, "add_addr_accepted": 3}),
    ({"subflows": 0}, {"subflows": 0, "add_addr_accepted": 0}),
    ({"add_addr_accepted": 8}, {"subflows": 2, "add_addr_accepted": 8}),
    ({"subflows": 8, "add_addr_accepted": 8}, {"subflows": 8, "add_addr_accepted": 8}),
])
def test_limits_are_set_one_left_out_is_kept_and_a_second_run_changes_nothing(netns, backend, wanted, expected):
    first = run(netns, backend, **wanted)
    assert first["changed"] is True and first["limits"] == expected
    assert netns.limits() == expected
    second = run(netns, backend, **wanted)
    assert (second["changed"], second["changes"]) == (False, [])
    assert netns.limits() == expected


def test_check_mode_predicts_and_changes_nothing(netns, backend):
    predicted = run(netns, backend, check_mode=True, subflows=5, add_addr_accepted=1)
    assert netns.limits() == DEFAULTS
    real = run(netns, backend, subflows=5, add_addr_accepted=1)
    assert predicted == real
    assert real["changes"] == ["set limits: subflows 2 -> 5, add_addr_accepted 0 -> 1"]
    assert netns.limits() == {"subflows": 5, "add_addr_accepted": 1}


@pytest.mark.parametrize("wanted, message", [
    ({"subflows": 9}, "subflows=9 is out of range: the kernel accepts 0 to 8"),
    ({"add_addr_accepted": -1}, "add_addr_accepted=-1 is out of range"),
    ({"subflows": 3, "add_addr_accepted": 100}, "add_addr_accepted=100 is out of range"),
])
def test_limits_above_eight_are_refused_before_anything(netns, backend, wanted, message):
    with pytest.raises(ValidationError) as caught:
        run(netns, backend, **wanted)
    assert message in str(caught.value)
    assert netns.limits() == DEFAULTS


def test_the_kernel_itself_refuses_limits_above_eight(netns, backend):
    """The rule the validation mirrors, asked of the kernel directly through each backend."""
    opened = open_backend(backend, netns.name, netns.ip_runner, IP)
    try:
        with pytest.raises(MptcpError) as caught:
            opened.set_limits({"subflows": 9, "add_addr_accepted": 0})
    finally:
        opened.close()
    assert "EINVAL" in str(caught.value) or "greater than maximum (8)" in str(caught.value)
    assert netns.limits() == DEFAULTS


# --- through Ansible ----------------------------------------------------------------------

def test_module_sets_reports_diffs_and_is_idempotent(netns, backend, module_runner):
    args = {"netns": netns.name, "backend": backend, "subflows": 3, "add_addr_accepted": 2}
    first = module_runner("mptcp_limits", args)
    assert first["changed"] is True and first["backend"] == backend
    assert first["limits"] == {"subflows": 3, "add_addr_accepted": 2}
    assert first["diff"]["before"] == {"subflows": 2, "add_addr_accepted": 0}
    assert first["diff"]["after"] == {"subflows": 3, "add_addr_accepted": 2}
    assert netns.limits() == {"subflows": 3, "add_addr_accepted": 2}
    second = module_runner("mptcp_limits", args)
    assert second["changed"] is False and second["changes"] == []


def test_module_check_mode_changes_nothing(netns, backend, module_runner):
    args = {"netns": netns.name, "backend": backend, "add_addr_accepted": 4}
    predicted = module_runner("mptcp_limits", args, check_mode=True)
    assert predicted["changed"] is True
    assert predicted["changes"] == ["set limits: add_addr_accepted 0 -> 4"]
    assert predicted["limits"] == {"subflows": 2, "add_addr_accepted": 4}
    assert netns.limits() == DEFAULTS


def test_module_refuses_a_limit_above_eight(netns, backend, module_runner):
    result = module_runner("mptcp_limits", {"netns": netns.name, "backend": backend, "subflows": 12})
    assert result["failed"] is True
    assert result["msg"] == ("subflows=12 is out of range: the kernel accepts 0 to 8 (it rejects "
                             "larger limits)")
    assert netns.limits() == DEFAULTS


def test_module_fails_clearly_on_a_missing_namespace(backend, module_runner):
    result = module_runner("mptcp_limits", {"netns": "mptcp-test-nowhere", "backend": backend, "subflows": 1})
    assert result["failed"] is True
    assert "netns 'mptcp-test-nowhere' does not exist" in result["msg"]
    assert not os.path.exists("/run/netns/mptcp-test-nowhere")


def test_module_runs_inside_a_namespace_without_the_netns_option(netns, module_runner):
    result = module_runner("mptcp_limits", {"subflows": 6}, inside_netns=netns.name)
    assert result["changed"] is True
    assert netns.limits() == {"subflows": 6, "add_addr_accepted": 0}


def test_the_examples_run_as_written(netns, make_netns, examples_runner):
    blue = make_netns()
    proc = examples_runner("mptcp_limits", [("netns: blue", "netns: " + blue.name)], inside_netns=netns.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert netns.limits() == {"subflows": 2, "add_addr_accepted": 2}
    assert blue.limits() == {"subflows": 4, "add_addr_accepted": 0}
