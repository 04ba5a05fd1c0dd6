"""After a reboot, everything the role set is back: net.mptcp from /etc/sysctl.d (applied
by systemd-sysctl at boot), limits and endpoints from mptcp-pm.service, NetworkManager's
flags, and iperf3 running over MPTCP through its drop-in."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tests"))

import expected  # noqa: E402  pylint: disable=wrong-import-position


def test_the_host_really_rebooted(host):
    assert not host.file("/run/mptcp-lab-before-reboot").exists
    # The unit ran at boot: active (exited), thanks to RemainAfterExit.
    assert host.service("mptcp-pm.service").is_running


def test_everything_came_back(host):
    expected.assert_set_up(host)
