"""nm_host.HostReader (what nm_mptcp_flags reads of the kernel: net.mptcp.enabled, the main
table's default routes, a device's addresses, the MPTCP endpoints) in a fresh network
namespace: the reader runs in a process inside it, on the namespace's own /proc and `ip`,
and what it reports is checked against what the test put there and against `ip -n`."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

IP = shutil.which("ip")

# Runs in the namespace: one HostReader, the queries of argv[1] in turn; each answer is
# {"value": ...} or {"error": the MptcpError's text}.
_READER = """
import json, os, subprocess, sys
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.host import HostReader

def run(argv):
    done = subprocess.run(argv, capture_output=True, universal_newlines=True,
                          env=dict(os.environ, LC_ALL="C"))
    return done.returncode, done.stdout, done.stderr

host = HostReader(run, sys.argv[2])
answers = []
for name, args in json.loads(sys.argv[1]):
    try:
        answers.append({"value": getattr(host, name)(*args)})
    except MptcpError as error:
        answers.append({"error": str(error)})
print(json.dumps(answers))
"""


def read(netns, *queries):
    """[(method, args)] -> the HostReader's answers, read inside `netns`."""
    env = dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"])
    argv = ["ip", "netns", "exec", netns.name, sys.executable, "-c", _READER,
            json.dumps([[name, list(args)] for name, args in queries]), IP]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def one(netns, name, *args):
    answer, = read(netns, (name, args))
    assert "error" not in answer, answer["error"]
    return answer["value"]


def link_local(netns, device):
    """The device's fe80:: address, as `ip` shows it (the kernel makes it when the link
    comes up; asked of `ip`, not assumed). iproute2 prints the addresses its filter left
    out as empty objects ({}), skipped here."""
    for link in netns.ip_json("-6", "address", "show", "dev", device, "scope", "link"):
        for entry in link.get("addr_info", []):
            if entry.get("local"):
                return entry["local"]
    return None


def addresses_by_ip(netns, device):
    """[(address, family)] of the device as `ip -n ... address show` lists them."""
    families = {"inet": 4, "inet6": 6}
    return [(entry["local"], families[entry["family"]])
            for link in netns.ip_json("address", "show", "dev", device)
            for entry in link.get("addr_info", [])]


# --- addresses ---------------------------------------------------------------------------

def test_addresses_of_both_families_and_which_ones_can_have_endpoints(netns):
    netns.add_interface("eth1", "198.18.1.10/24", "169.254.7.7/16", "192.0.2.1/32")
    for address in ("2001:db8:1::10/64", "fd00:1::10/64"):
        netns.ip("address", "add", address, "dev", "eth1", "nodad")
    local = link_local(netns, "eth1")
    found = [tuple(entry) for entry in one(netns, "addresses", "eth1")]
    # Every address `ip` shows, in its order, none left out or made up.
    assert [(address, family) for address, family, _candidate in found] == addresses_by_ip(netns, "eth1")
    candidates = dict((address, candidate) for address, _family, candidate in found)
    assert candidates == {
        "198.18.1.10": True, "192.0.2.1": True, "2001:db8:1::10": True,
        # NetworkManager makes no endpoint for link-local and unique local (fc00::/7) ones.
        "169.254.7.7": False, "fd00:1::10": False, local: False}
    assert local is not None and local.startswith("fe80:")


def test_loopback_addresses_are_no_candidates(netns):
    found = [tuple(entry) for entry in one(netns, "addresses", "lo")]
    assert sorted(found) == [("127.0.0.1", 4, False), ("::1", 6, False)]


def test_a_device_without_addresses_has_none(netns):
    # Down, so the kernel gives it no IPv6 link-local address either.
    netns.ip("link", "add", "bare", "type", "veth", "peer", "name", "barep")
    assert addresses_by_ip(netns, "bare") == []
    assert one(netns, "addresses", "bare") == []


def test_a_device_that_is_gone_is_an_error_naming_it(netns):
    netns.add_interface("eth1", "198.18.1.10/24")
    netns.ip("link", "delete", "eth1")
    answer, = read(netns, ("addresses", ["eth1"]))
    assert answer["error"].startswith("ip -j address show dev eth1 exited 1: ")
    assert 'Device "eth1" does not exist.' in answer["error"]


def test_a_device_of_another_namespace_is_not_seen(netns, make_netns):
    other = make_netns()
    other.add_interface("eth7", "198.18.7.10/24")
    assert "error" in read(netns, ("addresses", ["eth7"]))[0]
    assert [tuple(entry) for entry in one(other, "addresses", "eth7")][0] == ("198.18.7.10", 4, True)


# A router advertisement of 2001:db8:5::/64 (autonomous), sent on argv[1]: SLAAC makes an
# address of it, and with use_tempaddr=2 a temporary (privacy) one too.
_ADVERTISE = """
import socket, struct, sys
index = socket.if_nametoindex(sys.argv[1])
advertisement = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
prefix = struct.pack("!BBBBIII", 3, 4, 64, 0xc0, 86400, 14400, 0) + socket.inet_pton(
    socket.AF_INET6, "2001:db8:5::")
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
sock.sendto(advertisement + prefix, ("ff02::1", 0, 0, index))
"""


def temporary_addresses(netns, device):
    return [entry["local"] for link in netns.ip_json("-6", "address", "show", "dev", device)
            for entry in link.get("addr_info", []) if entry.get("temporary")]


def test_a_temporary_address_is_no_candidate(make_netns):
    """Privacy addresses come and go: NetworkManager makes no endpoint for them."""
    host, router = make_netns(), make_netns()
    for ns in (host, router):
        ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0")
    host.exec("sysctl", "-q", "-w", "net.ipv6.conf.default.use_tempaddr=2")
    host.link_to(router, "eth1", "peer")
    # Until the kernel has taken an advertisement; sending fails (ENETUNREACH) until the
    # peer's link-local address is there.
    for _attempt in range(100):
        router.exec(sys.executable, "-c", _ADVERTISE, "peer", check=False)
        if temporary_addresses(host, "eth1"):
            break
        time.sleep(0.1)
    temporary, = temporary_addresses(host, "eth1")
    found = [tuple(entry) for entry in one(host, "addresses", "eth1")]
    assert [(address, family) for address, family, _candidate in found] == addresses_by_ip(host, "eth1")
    slaac = [address for address, _family, _candidate in found
             if address.startswith("2001:db8:5:") and address != temporary]
    assert len(slaac) == 1
    assert dict((address, candidate) for address, _family, candidate in found) == {
        temporary: False, slaac[0]: True, link_local(host, "eth1"): False}


# --- default routes ----------------------------------------------------------------------

def test_default_routes_of_the_main_table(netns):
    netns.add_interface("eth1", "198.18.1.10/24")
    netns.ip("address", "add", "2001:db8:1::10/64", "dev", "eth1", "nodad")
    assert read(netns, ("default_route", [4]), ("default_route", [6])) == [{"value": False}, {"value": False}]
    # In another table only: not the main table's.
    netns.ip("route", "add", "default", "via", "198.18.1.1", "table", "100")
    netns.ip("-6", "route", "add", "default", "via", "2001:db8:1::1", "table", "100")
    assert read(netns, ("default_route", [4]), ("default_route", [6])) == [{"value": False}, {"value": False}]
    netns.ip("route", "add", "default", "via", "198.18.1.1")
    assert read(netns, ("default_route", [4]), ("default_route", [6])) == [{"value": True}, {"value": False}]
    netns.ip("-6", "route", "add", "default", "via", "2001:db8:1::1")
    assert read(netns, ("default_route", [4]), ("default_route", [6])) == [{"value": True}, {"value": True}]


@pytest.mark.parametrize("kind", ["blackhole", "unreachable", "prohibit"])
def test_a_default_route_that_goes_nowhere_does_not_count(netns, kind):
    netns.ip("route", "add", kind, "default")
    netns.ip("-6", "route", "add", kind, "default")
    shown = netns.ip_json("route", "show", "default", "table", "main")
    assert [route.get("type") for route in shown] == [kind]
    assert read(netns, ("default_route", [4]), ("default_route", [6])) == [{"value": False}, {"value": False}]


# --- net.mptcp.enabled and endpoints -----------------------------------------------------

def test_mptcp_enabled_is_the_namespace_s_own(netns):
    assert one(netns, "mptcp_enabled") is True
    netns.exec("sysctl", "-q", "-w", "net.mptcp.enabled=0")
    assert netns.exec("cat", "/proc/sys/net/mptcp/enabled").stdout == "0\n"
    assert one(netns, "mptcp_enabled") is False


def test_endpoints_as_ip_shows_them(netns):
    netns.add_interface("eth1", "198.18.1.10/24")
    netns.add_interface("eth2", "198.18.2.10/24")
    netns.ip("address", "add", "2001:db8:1::10/64", "dev", "eth1", "nodad")
    assert one(netns, "endpoints") == []
    netns.ip("mptcp", "endpoint", "add", "198.18.1.10", "dev", "eth1", "id", "3", "subflow", "backup")
    netns.ip("mptcp", "endpoint", "add", "198.18.2.10", "id", "7", "signal")
    netns.ip("mptcp", "endpoint", "add", "2001:db8:1::10", "dev", "eth1", "id", "9", "subflow", "fullmesh")
    found = dict((endpoint["id"], endpoint) for endpoint in one(netns, "endpoints"))
    shown = dict((entry["id"], entry) for entry in netns.endpoints())
    assert sorted(found) == sorted(shown) == [3, 7, 9]
    for endpoint_id, entry in shown.items():
        assert found[endpoint_id]["address"] == entry["address"]
        assert found[endpoint_id]["dev"] == entry.get("dev")
        assert sorted(found[endpoint_id]["flags"]) == sorted(
            name for name in ("signal", "subflow", "backup", "fullmesh") if entry.get(name))
    assert sorted(found[3]["flags"]) == ["backup", "subflow"]
    assert found[9]["address"] == "2001:db8:1::10" and sorted(found[9]["flags"]) == ["fullmesh", "subflow"]
