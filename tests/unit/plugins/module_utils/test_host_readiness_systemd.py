"""readiness: the parts that need systemd as init are refused on a host where it is not
(its systemctl says `offline`), and systemctl is asked only when such a part is wanted."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.host.readiness import HostReadiness, systemd_state


class Request:
    def __init__(self, persists=False, services=(), rejoin=False):
        self.persists_path_manager = persists
        self.services = list(services)
        self.rejoin = rejoin
        self.unit_name = "mptcp-pm.service"
        self.host_name = "h1"


def readiness(answer, systemctl="/usr/bin/systemctl"):
    calls = []

    def run(argv):
        calls.append(argv)
        return (0 if answer != "offline" else 1), answer + "\n", ""

    made = HostReadiness.__new__(HostReadiness)
    made._run = run
    made._systemctl = systemctl
    return made, calls


@pytest.mark.parametrize("answer", ["running", "degraded", "starting"])
def test_a_booted_systemd_is_fine_whatever_its_state(answer):
    made, calls = readiness(answer)
    assert made._systemd_problems(Request(persists=True, services=["a.service"], rejoin=True)) == []
    assert calls == [["/usr/bin/systemctl", "is-system-running"]]


def test_offline_refuses_naming_each_variable_that_needs_it():
    made, _calls = readiness("offline")
    problems = made._systemd_problems(Request(persists=True, services=["a.service"], rejoin=True))
    assert problems == [
        "h1 does not run systemd as its init (systemctl is-system-running: offline), and mptcp_persist (the boot "
        "unit mptcp-pm.service) and mptcp_mptcpize_services (a.service) and mptcp_rejoin (its service) need it: "
        "nothing could load or enable their units. Set mptcp_persist to false, leave mptcp_mptcpize_services empty "
        "and mptcp_rejoin false for this host (what the role sets then lasts until the next boot)."]


def test_no_systemctl_is_left_to_the_parts_and_the_socket_check():
    made, calls = readiness("", systemctl=None)
    assert made._systemd_problems(Request(persists=True, rejoin=True)) == [] and calls == []


def test_nothing_that_needs_systemd_asks_nothing():
    made, calls = readiness("offline")
    assert made._systemd_problems(Request()) == [] and calls == []


def test_systemd_state_is_the_word_systemctl_prints():
    assert systemd_state(lambda argv: (1, "offline\n", ""), "/bin/systemctl") == "offline"
