"""mptcp_info against the real kernel, in namespaces: a fresh one (compared with `ip`,
/proc and `ss` read by the test itself), two joined by two veth pairs with an open MPTCP
connection (subflow count, join counters), and a degraded host simulated in a private
mount namespace (no ip, ss, pyroute2 nor MPTCP sysctls)."""

import json
import os
import shutil
import subprocess
import sys
import time

import pyroute2
import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.info.gather import SUBSETS, Gatherer

BACKENDS = ["pyroute2", "iproute2"]
PORT = 5201
SITE_PACKAGES = os.path.dirname(os.path.dirname(pyroute2.__file__))

# The peers, run with `ip netns exec`: they report on stdout and stay until stdin closes.
SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.11.2", %d))
s.listen()
print("listening", flush=True)
c, _ = s.accept()
c.recv(1000)
sys.stdin.read()
""" % PORT
# The oracle of the subflow count: MPTCP_INFO (SOL_MPTCP 284, MPTCP_INFO 1), whose first
# byte is the number of extra subflows, read on the client's own socket.
CLIENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(("198.18.11.2", %d))
s.sendall(b"x" * 1000)
deadline = time.time() + 10
while s.getsockopt(284, 1, 256)[0] < 1 and time.time() < deadline:
    time.sleep(0.02)
print("subflows %%d" %% s.getsockopt(284, 1, 256)[0], flush=True)
sys.stdin.read()
""" % PORT


def gather(netns, subsets=SUBSETS, backend="auto"):
    facts, unavailable = Gatherer(netns.ip_runner, shutil.which, netns.name, backend).gather(list(subsets))
    return facts, unavailable


def in_netns(netns, *argv):
    return netns.ip_runner(["ip", "netns", "exec", netns.name] + list(argv))[1]


def oracle_sysctl(netns):
    """{short name: text} of /proc/sys/net/mptcp as a process inside the namespace sees it."""
    found = {}
    for line in in_netns(netns, "grep", "-r", ".", "/proc/sys/net/mptcp").splitlines():
        path, _colon, value = line.partition(":")
        found[os.path.basename(path)] = value.strip()
    return found


def oracle_counters(netns):
    lines = [line.split() for line in in_netns(netns, "cat", "/proc/net/netstat").splitlines()
             if line.startswith("MPTcpExt:")]
    return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:])))


def test_a_fresh_namespace_is_read_from_inside_it(netns):
    netns.add_interface("e1", "198.18.1.1/24")
    netns.ip("mptcp", "endpoint", "add", "198.18.1.1", "id", "3", "dev", "e1", "signal")
    in_netns(netns, sys.executable, "-c", "open('/proc/sys/net/mptcp/add_addr_timeout', 'w').write('60')")
    facts, unavailable = gather(netns)
    assert facts["supported"] is True
    assert set(facts["sysctl"]) == set(oracle_sysctl(netns))
    assert dict((k, str(v)) for k, v in facts["sysctl"].items()) == oracle_sysctl(netns)
    # The namespace's own value, not the host's.
    assert facts["sysctl"]["add_addr_timeout"] == 60
    assert facts["limits"] == netns.limits() == {"subflows": 2, "add_addr_accepted": 0}
    assert facts["endpoints"] == [{"id": 3, "address": "198.18.1.1", "port": None, "dev": "e1", "flags": ["signal"]}]
    assert facts["connections"] == []
    assert facts["counters"] == oracle_counters(netns) and facts["counters"]["MPJoinSynTx"] == 0
    assert facts["tools"]["iproute2"]["version"] in netns.ip_runner(["ip", "-V"])[1]
    assert facts["tools"]["iproute2"]["ip_mptcp"] is True
    assert facts["tools"]["pyroute2"] == pyroute2.__version__
    assert set(unavailable) <= {"nm_profiles"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_limits_and_endpoints_read_the_same_through_both_backends(netns, backend):
    netns.ip("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
    netns.ip("mptcp", "endpoint", "add", "198.18.1.9", "id", "9", "subflow", "backup")
    facts, unavailable = gather(netns, ["limits", "endpoints"], backend)
    assert unavailable == {}
    assert facts == {"supported": True, "limits": {"subflows": 3, "add_addr_accepted": 1},
                     "endpoints": [{"id": 9, "address": "198.18.1.9", "port": None, "dev": None,
                                    "flags": ["subflow", "backup"]}]}


@pytest.fixture
def pair(make_netns):
    """A client and a server namespace joined by two veth pairs (198.18.11.0/24 and
    198.18.12.0/24); the client has a subflow endpoint on the second path."""
    client, server = make_netns(), make_netns()
    run = client.ip_runner
    for index in (1, 2):
        run(["ip", "link", "add", "c%d" % index, "netns", client.name, "type", "veth",
             "peer", "name", "s%d" % index, "netns", server.name])
        client.ip("address", "add", "198.18.1%d.1/24" % index, "dev", "c%d" % index)
        server.ip("address", "add", "198.18.1%d.2/24" % index, "dev", "s%d" % index)
        client.ip("link", "set", "c%d" % index, "up")
        server.ip("link", "set", "s%d" % index, "up")
    for side in (client, server):
        side.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
    client.ip("mptcp", "endpoint", "add", "198.18.12.1", "dev", "c2", "subflow")
    return client, server


def peer(netns, script):
    proc = subprocess.Popen(["ip", "netns", "exec", netns.name, sys.executable, "-c", script],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        raise AssertionError("peer in %s said nothing: %s" % (netns.name, proc.stderr.read()))
    return proc, line


@pytest.fixture
def connection(pair):
    """An open MPTCP connection client -> server, with its join done. Yields (client,
    server, counters before on each side, the client's own MPTCP_INFO subflow count)."""
    client, server = pair
    before = (gather(client, ["counters"])[0]["counters"], gather(server, ["counters"])[0]["counters"])
    server_proc, _ready = peer(server, SERVER)
    try:
        client_proc, said = peer(client, CLIENT)
        try:
            yield client, server, before, int(said.split()[1])
        finally:
            client_proc.communicate("")
    finally:
        server_proc.communicate("")


def joined(netns, side_port):
    """The ESTAB connection whose `side_port` is PORT, once ss shows its join (the kernel
    may take a moment after the client saw it)."""
    deadline = time.time() + 10
    while True:
        facts, _unavailable = gather(netns, ["connections"])
        found = [c for c in facts["connections"] if c["state"] == "ESTAB" and c[side_port]["port"] == PORT]
        if (found and found[0]["subflows"] >= 1) or time.time() > deadline:
            return found, facts["connections"]
        time.sleep(0.05)


def test_an_open_connection_shows_its_subflows_and_the_join_counters_move(connection):
    client, server, (client_before, server_before), client_info_subflows = connection
    assert client_info_subflows == 1
    (on_client,), _all = joined(client, "remote")
    assert on_client["subflows"] == client_info_subflows == 1
    assert on_client["remote"] == {"address": "198.18.11.2", "port": PORT, "dev": None}
    assert on_client["local"]["address"] == "198.18.11.1"
    assert on_client["fallback"] is False and on_client["token"]
    (on_server,), everything = joined(server, "local")
    assert on_server["subflows"] == 1
    assert [c["state"] for c in everything if c["local"]["port"] == PORT] == ["ESTAB", "LISTEN"]

    client_after = gather(client, ["counters"])[0]["counters"]
    server_after = gather(server, ["counters"])[0]["counters"]
    moved = dict((name, client_after[name] - client_before[name]) for name in client_after)
    assert moved["MPCapableSYNTX"] == moved["MPCapableSYNACKRX"] == 1
    assert moved["MPJoinSynTx"] == moved["MPJoinSynAckRx"] == 1
    moved = dict((name, server_after[name] - server_before[name]) for name in server_after)
    assert moved["MPCapableSYNRX"] == 1
    assert moved["MPJoinSynRx"] == moved["MPJoinAckRx"] == 1
    assert client_after == oracle_counters(client) and server_after == oracle_counters(server)


def test_module_reports_only_the_subsets_asked_for(connection, module_runner):
    client, _server, _before, _subflows = connection
    joined(client, "remote")
    result = module_runner("mptcp_info", {"netns": client.name, "gather_subset": ["connections", "counters"]})
    assert result["changed"] is False
    facts = result["ansible_facts"]["mptcp"]
    assert set(facts) == {"supported", "connections", "counters", "unavailable"}
    assert facts["unavailable"] == {}
    (estab,) = [c for c in facts["connections"] if c["state"] == "ESTAB"]
    assert estab["subflows"] == 1 and estab["remote"]["port"] == PORT
    assert facts["counters"]["MPJoinSynTx"] >= 1


def test_module_gathers_everything_in_check_mode_too(netns, module_runner):
    result = module_runner("mptcp_info", {"netns": netns.name}, check_mode=True)
    facts = result["ansible_facts"]["mptcp"]
    assert result["changed"] is False and facts["supported"] is True
    assert set(facts) == {"supported", "sysctl", "limits", "endpoints", "nm_profiles", "connections", "counters",
                          "tools", "rp_filter", "managers", "unavailable"}
    assert facts["limits"] == {"subflows": 2, "add_addr_accepted": 0}


def oracle_rp_filter(netns):
    """{entry: int} of /proc/sys/net/ipv4/conf/*/rp_filter as a process inside the namespace sees it."""
    found = {}
    for line in in_netns(netns, "grep", "-r", ".", "/proc/sys/net/ipv4/conf", "--include=rp_filter").splitlines():
        path, _colon, value = line.partition(":")
        found[os.path.basename(os.path.dirname(path))] = int(value)
    return found


def test_rp_filter_is_reported_per_interface_as_the_kernel_applies_it(netns, module_runner):
    """effective = max(all, interface): all=1 makes e1 (0) strict; e2 (2) stays loose."""
    netns.add_interface("e1")
    netns.add_interface("e2")
    for entry, value in (("all", 1), ("e2", 2)):
        in_netns(netns, "sh", "-c", "echo %d > /proc/sys/net/ipv4/conf/%s/rp_filter" % (value, entry))
    result = module_runner("mptcp_info", {"netns": netns.name, "gather_subset": ["rp_filter"], "facts": False})
    report = result["mptcp"]["rp_filter"]
    oracle = oracle_rp_filter(netns)
    assert sorted(report) == sorted(name for name in oracle if name not in ("all", "default"))
    for name, entry in report.items():
        assert entry["all"] == oracle["all"] == 1 and entry["dev"] == oracle[name]
        assert entry["effective"] == max(oracle["all"], oracle[name])
        assert entry["strict"] is (entry["effective"] == 1)
    assert report["e1"] == {"all": 1, "dev": 0, "effective": 1, "strict": True}
    assert report["e2"] == {"all": 1, "dev": 2, "effective": 2, "strict": False}
    assert result["mptcp"]["unavailable"] == {}


def test_module_fails_clearly_on_a_missing_namespace(module_runner):
    result = module_runner("mptcp_info", {"netns": "mptcp-test-nowhere"})
    assert result["failed"] is True and "netns 'mptcp-test-nowhere' does not exist" in result["msg"]


def test_a_degraded_host_gets_empty_parts_never_a_failure(module_runner, private_mounts):
    """In a private mount namespace: ip and ss replaced by /dev/null (not executable),
    pyroute2 by an empty directory, /proc/sys/net/mptcp by an empty tmpfs (as on a kernel
    without MPTCP), and nmcli, where this machine has one, by /dev/null as well: the same
    degraded host everywhere. The counters still come from the real kernel:
    /proc/net/netstat cannot be hidden this way."""
    tools = [shutil.which("ip"), shutil.which("ss")] + ([shutil.which("nmcli")] if shutil.which("nmcli") else [])
    hide = [["mount", "--bind", "/dev/null", path] for path in tools]
    hide += [["mount", "-t", "tmpfs", "none", os.path.join(SITE_PACKAGES, "pyroute2")],
             ["mount", "-t", "tmpfs", "none", "/proc/sys/net/mptcp"]]
    result = module_runner("mptcp_info", {"gather_subset": ["all"]}, wrap=private_mounts(hide))
    assert "failed" not in result, json.dumps(result)
    facts = result["ansible_facts"]["mptcp"]
    assert facts["supported"] is False
    assert (facts["sysctl"], facts["limits"], facts["endpoints"], facts["connections"], facts["nm_profiles"]) == \
        ({}, {}, [], [], [])
    assert facts["tools"]["iproute2"] is None and facts["tools"]["pyroute2"] is None
    assert sorted(facts["unavailable"]) == ["connections", "endpoints", "limits", "nm_profiles", "supported"]
    assert facts["unavailable"]["limits"].startswith("the ip command (iproute2) was not found and pyroute2 is not usable")
    assert facts["unavailable"]["connections"] == "ss not found (it comes with iproute2)"


def test_the_examples_run_as_written(netns, make_netns, examples_runner):
    netns.ip("mptcp", "endpoint", "add", "192.0.2.1", "signal")
    blue = make_netns()
    proc = examples_runner("mptcp_info", [("netns: blue", "netns: " + blue.name)], inside_netns=netns.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout
