"""The role's result on a converged lab host (testinfra, over `podman exec`), and a run in
check mode afterwards that reports no change and changes nothing."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tests"))

import expected  # noqa: E402  pylint: disable=wrong-import-position


def test_kernel_has_mptcp(host):
    assert host.file("/proc/sys/net/mptcp/enabled").exists


def test_role_set_everything_up(host):
    expected.assert_set_up(host)


def snapshot(host):
    return (expected.endpoints(host), expected.limits(host), expected.sysctl(host, "enabled"),
            expected.sysctl(host, "add_addr_timeout"),
            expected.nm_flags(host, "lab-eth0"), expected.nm_flags(host, "lab-eth1"),
            host.file("/etc/sysctl.d/90-mptcp.conf").content_string,
            host.file("/etc/systemd/system/mptcp-pm.service").content_string,
            host.check_output("systemctl show -p MainPID --value iperf3"))


def test_check_mode_reports_no_change_and_changes_nothing(host):
    before = snapshot(host)
    stats = expected.run_converge(host, "molecule-default", "--check", "--diff")
    assert stats["changed"] == 0 and stats["failures"] == 0, stats
    assert snapshot(host) == before
