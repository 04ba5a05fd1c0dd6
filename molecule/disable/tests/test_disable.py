"""After mptcp_state: absent and a reboot: MPTCP off now and at boot, and nothing the role
made is left (settings, endpoints, NetworkManager flags, unit, drop-ins)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tests"))

import expected  # noqa: E402  pylint: disable=wrong-import-position


def test_mptcp_is_off_now_and_at_boot(host):
    assert expected.sysctl(host, "enabled") == "0"
    conf = host.file("/etc/sysctl.d/90-mptcp.conf")
    lines = [line for line in conf.content_string.splitlines() if not line.startswith("#")]
    assert lines == ["net.mptcp.enabled = 0"]


def test_role_settings_are_gone(host):
    # add_addr_timeout was 60 from the role; after the reboot it is the kernel's again.
    assert expected.sysctl(host, "add_addr_timeout") == "120"


def test_endpoints_and_limits_are_the_kernels_defaults(host):
    assert expected.endpoints(host) == []
    assert expected.limits(host) == {"add_addr_accepted": 0, "subflows": 2}


def test_network_manager_flags_are_default(host):
    assert expected.nm_flags(host, "lab-eth0") in ("0x0", "0")
    assert expected.nm_flags(host, "lab-eth1") in ("0x0", "0")


def test_unit_and_drop_ins_are_gone(host):
    assert not host.file("/etc/systemd/system/mptcp-pm.service").exists
    assert not host.file("/etc/systemd/system/iperf3.service.d/50-mptcp.conf").exists
    assert host.run("systemctl cat mptcp-pm.service").rc != 0


def test_absent_again_changes_nothing(host):
    stats = expected.run_converge(host, "molecule-disable", "-e", "mptcp_state=absent")
    assert stats["changed"] == 0 and stats["failures"] == 0, stats
