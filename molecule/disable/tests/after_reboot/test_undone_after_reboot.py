"""After mptcp_state: absent and a reboot: MPTCP off now and at boot, and nothing the role
made comes back (settings, limits, endpoints, NetworkManager flags, unit, drop-ins)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "tests"))

import expected  # noqa: E402  pylint: disable=wrong-import-position


def test_the_host_really_rebooted(host):
    assert not host.file("/run/mptcp-lab-before-reboot").exists


def test_nothing_came_back_at_boot(host):
    expected.assert_undone(host)


def test_limits_and_settings_are_the_kernels_again(host):
    # converge set other values (expected.role_limits, add_addr_timeout 60): no unit
    # applied the limits at boot, no file set the timeout.
    assert expected.limits(host) == expected.KERNEL_LIMITS
    assert expected.sysctl(host, "add_addr_timeout") == expected.KERNEL_ADD_ADDR_TIMEOUT


def test_absent_again_changes_nothing(host):
    stats = expected.run_converge(host, "molecule-disable", "-e", "mptcp_state=absent")
    assert stats["changed"] == 0 and stats["failures"] == 0, stats
