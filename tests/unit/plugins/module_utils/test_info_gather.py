"""mptcp_info's gathering: only the subsets asked for are read, and a degraded host (no
MPTCP, no NetworkManager, no pyroute2, no ss, no ip) gets empty parts and reasons, never
an error."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.info import gather as info_gather
from ansible_collections.mptcp.linux.plugins.module_utils.info import tools as info_tools
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager import backend as pm_backend
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.info.gather import SUBSETS, Gatherer, resolve_subsets

NMCLI = {
    ("-t", "-f", "RUNNING,VERSION", "general"): (0, "running:1.42.4\n", ""),
    ("--version",): (0, "nmcli tool, version 1.42.4\n", ""),
    ("-t", "-f", "NAME,UUID,TYPE,DEVICE,ACTIVE", "connection", "show"): (
        0, "uplink1:6c8a1f34-4b7e-4cf0-9a8c-1d3c52b1f0a1:802-3-ethernet:eth0:yes\n"
           "uplink2:0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61:802-3-ethernet::no\n", ""),
    ("-g", "connection.uuid,connection.mptcp-flags", "connection", "show", "uuid",
     "6c8a1f34-4b7e-4cf0-9a8c-1d3c52b1f0a1", "uuid", "0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61"): (
        0, "6c8a1f34-4b7e-4cf0-9a8c-1d3c52b1f0a1\n0x0\n\n0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61\n0x32\n", ""),
}


NO_MPTCPD = {"installed": False, "unit": None, "running": False, "pids": [], "enabled": False, "config": None, "plugin_dir": None,
             "path_manager": None, "plugins": [], "unknown_plugins": [], "addr_flags": [], "writes": []}


class FakeHost:
    """Commands answered from a table, every one recorded."""

    def __init__(self, answers=None, tools=("ip", "ss", "nmcli")):
        self.answers = answers or {}
        self.tools = tools
        self.calls = []

    def run(self, argv):
        self.calls.append(argv)
        return self.answers.get(tuple(argv[1:]), (1, "", "unexpected command"))

    def which(self, name):
        return "/usr/bin/" + name if name in self.tools else None


@pytest.mark.parametrize("asked, subsets", [
    (["all"], list(SUBSETS)),
    (None, list(SUBSETS)),
    (["counters", "sysctl"], ["sysctl", "counters"]),
    (["all", "nm"], list(SUBSETS)),
])
def test_resolve_subsets(asked, subsets):
    assert resolve_subsets(asked) == subsets


@pytest.mark.parametrize("subset, commands", [
    ("sysctl", []),
    ("counters", []),
    ("connections", [["/usr/bin/ss", "-H", "-M", "-n", "-a", "-i"]]),
    ("limits", [["/usr/bin/ip", "mptcp", "limits", "show"]]),
    ("endpoints", [["/usr/bin/ip", "-j", "mptcp", "endpoint", "show"]]),
    ("nm", [["/usr/bin/nmcli"] + list(key) for key in NMCLI]),
])
def test_only_the_subset_asked_for_is_read(subset, commands):
    answers = dict(NMCLI)
    answers.update({("mptcp", "limits", "show"): (0, "add_addr_accepted 0 subflows 2 \n", ""),
                    ("-j", "mptcp", "endpoint", "show"): (0, "[]", ""),
                    ("-H", "-M", "-n", "-a", "-i"): (0, "", "")})
    host = FakeHost(answers)
    facts, unavailable = Gatherer(host.run, host.which, backend="iproute2").gather([subset])
    assert host.calls == commands
    assert unavailable == {} or facts["supported"] is False
    assert set(facts) == {"supported", info_gather.FACT_NAMES.get(subset, subset)}


def test_nm_profiles_carry_their_mptcp_flags_by_name():
    host = FakeHost(NMCLI)
    facts, unavailable = Gatherer(host.run, host.which).gather(["nm"])
    assert unavailable == {}
    assert facts["nm_profiles"] == [
        {"name": "uplink1", "uuid": "6c8a1f34-4b7e-4cf0-9a8c-1d3c52b1f0a1", "type": "802-3-ethernet",
         "devices": ["eth0"], "mptcp_flags": []},
        {"name": "uplink2", "uuid": "0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61", "type": "802-3-ethernet",
         "devices": [], "mptcp_flags": ["enabled", "signal", "subflow"]},
    ]


def test_networkmanager_installed_but_not_running_leaves_the_part_empty():
    host = FakeHost({("-t", "-f", "RUNNING,VERSION", "general"): (
        8, "", "Error: NetworkManager is not running.\n")})
    facts, unavailable = Gatherer(host.run, host.which).gather(["nm"])
    assert facts["nm_profiles"] == []
    assert unavailable["nm_profiles"].startswith("NetworkManager is not running")


def test_a_degraded_host_gets_empty_parts_and_reasons_never_an_error(monkeypatch, tmp_path):
    """No MPTCP in the kernel, no pyroute2, and none of ip, ss, nmcli, mptcpize."""
    def no_mptcp(*_args):
        raise MptcpError("/proc/sys/net/mptcp does not exist: this kernel has no MPTCP")
    monkeypatch.setattr(info_gather, "ENABLED_PATH", str(tmp_path / "enabled"))
    monkeypatch.setattr(info_gather, "read_snapshot", no_mptcp)
    monkeypatch.setattr(info_gather, "read_counters", lambda: {})
    monkeypatch.setattr(pm_backend, "unusable_reason", lambda: "pyroute2 cannot be imported")
    monkeypatch.setattr(info_tools, "pyroute2_version", lambda: None)
    host = FakeHost(tools=())
    facts, unavailable = Gatherer(host.run, host.which, root=str(tmp_path)).gather(list(SUBSETS))
    assert host.calls == []
    assert facts == {"supported": False, "sysctl": {}, "limits": {}, "endpoints": [], "nm_profiles": [],
                     "connections": [], "counters": {},
                     "tools": {"iproute2": None, "pyroute2": None, "nmcli": None, "mptcpize": None, "systemd": None},
                     "rp_filter": {},
                     "managers": {"mptcpd": NO_MPTCPD, "networkmanager": {"running": False, "endpoints": []},
                                  "sysctl_boot": {}}}
    assert unavailable == {
        "supported": "this kernel has no MPTCP (no %s)" % (tmp_path / "enabled"),
        "sysctl": "/proc/sys/net/mptcp does not exist: this kernel has no MPTCP",
        "limits": "the ip command (iproute2) was not found and pyroute2 is not usable (pyroute2 cannot be imported)",
        "endpoints": "the ip command (iproute2) was not found and pyroute2 is not usable (pyroute2 cannot be imported)",
        "nm_profiles": "nmcli not found: NetworkManager is not installed",
        "connections": "ss not found (it comes with iproute2)",
        "rp_filter": "%s does not exist: no IPv4 in this network namespace" % (tmp_path / "proc/sys/net/ipv4/conf"),
    }


def test_a_command_that_fails_leaves_its_part_empty():
    host = FakeHost({("-H", "-M", "-n", "-a", "-i"): (1, "", "Cannot open netlink socket: Permission denied")})
    facts, unavailable = Gatherer(host.run, host.which).gather(["connections"])
    assert facts["connections"] == []
    assert "Cannot open netlink socket: Permission denied" in unavailable["connections"]


def test_a_namespace_that_does_not_exist_fails():
    host = FakeHost()
    with pytest.raises(ValidationError) as caught:
        Gatherer(host.run, host.which, netns="mptcp-test-nowhere")
    assert "netns 'mptcp-test-nowhere' does not exist" in str(caught.value)
