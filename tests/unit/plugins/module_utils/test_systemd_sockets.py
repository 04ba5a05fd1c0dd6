"""Socket units onto MPTCP: which systemd takes SocketProtocol=mptcp, and which running
services the role must stop before it restarts a changed socket (systemctl's answers as
systemd 257 gives them in the lab: `show --property=Triggers --value`, `is-active`)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.host.ensure import socket_services_running
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import Systemctl
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.sockets import is_socket, running_services, takes_socket_protocol


@pytest.mark.parametrize("version, takes", [(None, False), (247, False), (252, False), (256, False), (257, True), (262, True)])
def test_socket_protocol_mptcp_from_systemd_257(version, takes):
    assert takes_socket_protocol(version) is takes


def test_is_socket():
    assert is_socket("echo.socket") and not is_socket("echo.service") and not is_socket("socket.service")


class FakeSystemd:
    """Triggers= of each socket and the services that run; every call recorded."""

    def __init__(self, triggers, active):
        self.triggers = triggers
        self.active = active
        self.calls = []

    def run(self, argv):
        self.calls.append(argv[1:])
        if argv[1] == "show":
            unit = argv[-1]
            return (0, " ".join(self.triggers[unit]) + "\n", "") if unit in self.triggers else (1, "", "not loaded")
        if argv[1] == "is-active":
            return (0, "active\n", "") if argv[2] in self.active else (3, "inactive\n", "")
        raise AssertionError(argv)

    def bin_path(self, name):
        return "/usr/bin/systemctl" if name == "systemctl" else None


def test_only_running_services_of_the_sockets_are_named_once_each():
    systemd = FakeSystemd({"one.socket": ["one.service"], "echo.socket": [],  # Accept=yes: no Triggers=
                           "two.socket": ["one.service", "two.service"], "idle.socket": ["idle.service"]},
                          active={"one.service", "two.service"})
    systemctl = Systemctl(systemd.run, "/usr/bin/systemctl")
    assert running_services(systemctl, ["one.socket", "echo.socket", "two.socket", "idle.socket", "gone.socket"]) == [
        "one.service", "two.service"]
    assert ["show", "--property=Triggers", "--value", "one.socket"] in systemd.calls


def test_the_host_asks_systemd_only_about_changed_socket_units():
    systemd = FakeSystemd({"one.socket": ["one.service"]}, active={"one.service", "iperf3.service"})
    assert socket_services_running(systemd, ["iperf3.service", "one.socket"]) == ["one.service"]
    quiet = FakeSystemd({}, active=set())
    assert socket_services_running(quiet, ["iperf3.service", "etcd.service"]) == [] and quiet.calls == []
