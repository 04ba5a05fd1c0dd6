"""mptcp_source_routing against the real kernel, in namespaces.

On the wire first: a client with two uplinks (eth0 to router A, eth1 to router B) and
one default route (via A), a server with one address on a segment both routers reach,
and a default route via A. An MPTCP connection from the client gets one subflow: the
join from eth1's address leaves bound to eth1, where no route leads to the server. With
the module's rule and table for that address (gateway router B) it gets two, and router
B's interface counters move with the transfer. The oracles are the kernel's: `ss` for the
subflows, /sys/class/net/*/statistics for the counters, `ip -j rule` and `ip -j route`
for what was set up."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.routing.ensure import Request, Run

PORT = 5201
SERVER = "198.18.66.10"
CLIENT_ETH1 = "198.18.65.2"
ROUTER_B = "198.18.65.1"
IPPROTO_MPTCP = 262
CHUNK = 64 * 1024
BEFORE_JOIN = 1 << 20
AFTER_JOIN = 4 << 20
JOIN_WAIT = 5.0  # seconds the test waits for a second subflow before it counts them

SERVER_PY = """
import socket, sys
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, %d)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(1)
print("listening", flush=True)
connection, _peer = listener.accept()
total = 0
while True:
    data = connection.recv(1 << 16)
    if not data:
        break
    total += len(data)
print(total, flush=True)
""" % IPPROTO_MPTCP

# Sends BEFORE_JOIN bytes, waits for a line on stdin (the test counts the subflows), sends
# AFTER_JOIN bytes more and closes.
CLIENT_PY = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, %d)
sock.connect((sys.argv[1], int(sys.argv[2])))
chunk = b"x" * %d
for _ in range(%d):
    sock.sendall(chunk)
print("sent", flush=True)
sys.stdin.readline()
for _ in range(%d):
    sock.sendall(chunk)
sock.close()
print("done", flush=True)
""" % (IPPROTO_MPTCP, CHUNK, BEFORE_JOIN // CHUNK, AFTER_JOIN // CHUNK)


def ip_j(ns, *args):
    return ns.ip_json(*args)


def _routes(ns, family):
    """Every route but those the kernel makes from addresses and links (the local table's,
    `proto kernel`: IPv6 adds and drops some of them as its link-local addresses come)."""
    return sorted(json.dumps(route, sort_keys=True) for route in ip_j(ns, "-%d" % family, "route", "show", "table", "all")
                  if route.get("table") != "local" and route.get("protocol") != "kernel")


def rules_and_routes(ns):
    """What the kernel holds, both families: the oracle of "nothing changed"."""
    return {"rules4": ip_j(ns, "rule", "show"), "rules6": ip_j(ns, "-6", "rule", "show"),
            "routes4": _routes(ns, 4), "routes6": _routes(ns, 6)}


def table(ns, number, family=4):
    return sorted((r["dst"], r.get("gateway"), r["dev"]) for r in ip_j(ns, "-%d" % family, "route", "show", "table", "all")
                  if r.get("table") == str(number))


def our_rules(ns, family=4):
    return [(r["priority"], r["src"], r["table"]) for r in ip_j(ns, "-%d" % family, "rule", "show")
            if r["src"] not in ("all",)]


@pytest.fixture
def routed(make_netns):
    """client, router_a, router_b, server as described at the top; returns a dict of Netns."""
    client, router_a, router_b, server = (make_netns() for _index in range(4))
    client.link_to(router_a, "eth0", "a0", "198.18.64.2/24", "198.18.64.1/24")
    client.link_to(router_b, "eth1", "b0", CLIENT_ETH1 + "/24", ROUTER_B + "/24")
    server.ip("link", "add", "br0", "type", "bridge")
    server.ip("address", "add", SERVER + "/24", "dev", "br0")
    server.ip("link", "set", "br0", "up")
    router_a.link_to(server, "a1", "sa", "198.18.66.1/24")
    router_b.link_to(server, "b1", "sb", "198.18.66.2/24")
    for port in ("sa", "sb"):
        server.ip("link", "set", port, "master", "br0")
    server.ip("route", "add", "default", "via", "198.18.66.1")
    # Router A knows the client's second network, behind router B.
    router_a.ip("route", "add", "198.18.65.0/24", "via", "198.18.66.2")
    for router in (router_a, router_b):
        router.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
    client.ip("route", "add", "default", "via", "198.18.64.1", "dev", "eth0")
    # Both uplinks shaped alike: unshaped, the scheduler may keep every byte on the first
    # subflow (seen: 4 KB of 4 MB on the second), which would prove no path.
    for link in ("eth0", "eth1"):
        client.exec("tc", "qdisc", "add", "dev", link, "root", "tbf", "rate", "50mbit", "burst", "32kbit", "latency", "50ms")
    client.ip("mptcp", "limits", "set", "subflows", "2")
    client.ip("mptcp", "endpoint", "add", CLIENT_ETH1, "dev", "eth1", "subflow")
    server.ip("mptcp", "limits", "set", "subflows", "2")
    return dict(client=client, router_a=router_a, router_b=router_b, server=server)


def counters(ns, link):
    out = ns.exec("cat", "/sys/class/net/%s/statistics/rx_bytes" % link, "/sys/class/net/%s/statistics/tx_bytes" % link)
    rx, tx = (int(value) for value in out.stdout.split())
    return rx, tx


def subflows(ns):
    """Established TCP sockets of the client to the server: the MPTCP connection's subflows."""
    out = ns.exec("ss", "-tnH", "state", "established", "dst", SERVER).stdout
    return len([line for line in out.splitlines() if line.strip()])


def transfer(net):
    """One MPTCP connection client -> server: (subflows seen, router B's b0 (rx, tx) moved, bytes received)."""
    server = subprocess.Popen(["ip", "netns", "exec", net["server"].name, sys.executable, "-c", SERVER_PY, SERVER, str(PORT)],
                              stdout=subprocess.PIPE, text=True)
    client = None
    try:
        assert server.stdout.readline().strip() == "listening"
        before = counters(net["router_b"], "b0")
        client = subprocess.Popen(["ip", "netns", "exec", net["client"].name, sys.executable, "-c", CLIENT_PY, SERVER,
                                   str(PORT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "sent"
        deadline = time.monotonic() + JOIN_WAIT
        count = subflows(net["client"])
        while count < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            count = subflows(net["client"])
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "done"
        received = int(server.stdout.readline())
        after = counters(net["router_b"], "b0")
        return count, (after[0] - before[0], after[1] - before[1]), received
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_the_second_subflow_forms_through_router_b_only_with_the_routes(routed, module_runner, capsys):
    count, moved, received = transfer(routed)
    assert received == BEFORE_JOIN + AFTER_JOIN
    assert count == 1
    assert moved[0] < 100 * 1024, moved  # the join never got to router B (nor any data)

    result = module_runner("mptcp_source_routing", {"netns": routed["client"].name, "routes": [
        {"address": CLIENT_ETH1, "gateway": ROUTER_B, "dev": "eth1"}]})
    assert result["changed"] is True, result
    assert result["routes"][0]["via"] == "kernel" and result["routes"][0]["prefix"] == "198.18.65.0/24"

    count_after, moved_after, received = transfer(routed)
    assert received == BEFORE_JOIN + AFTER_JOIN
    assert count_after == 2
    # Data of the second subflow came through router B (against a few hundred bytes of ARP
    # without the routes).
    assert moved_after[0] > AFTER_JOIN // 4, moved_after
    with capsys.disabled():
        print("\nsource routing on the wire: subflows %d -> %d; router B b0 rx bytes +%d -> +%d (tx +%d -> +%d)"
              % (count, count_after, moved[0], moved_after[0], moved[1], moved_after[1]))


@pytest.fixture
def host(netns):
    """A namespace with eth1 (IPv4 and IPv6) and eth2 (IPv4)."""
    netns.add_interface("eth1", "198.18.62.2/24")
    netns.ip("address", "add", "2001:db8:62::2/64", "dev", "eth1", "nodad")
    netns.add_interface("eth2", "198.18.63.2/24")
    return netns


DUAL = [{"address": "198.18.62.2", "gateway": "198.18.62.1", "dev": "eth1"},
        {"address": "2001:db8:62::2", "gateway": "2001:db8:62::1", "dev": "eth1"}]


def test_ipv4_and_ipv6_are_set_up_and_a_second_run_changes_nothing(host, module_runner):
    result = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL})
    assert result["changed"] is True and not result.get("failed"), result
    assert our_rules(host, 4) == [(1000, "198.18.62.2", "1000")]
    assert our_rules(host, 6) == [(1001, "2001:db8:62::2", "1001")]
    assert table(host, 1000) == [("198.18.62.0/24", None, "eth1"), ("default", "198.18.62.1", "eth1")]
    assert table(host, 1001, 6) == [("2001:db8:62::/64", None, "eth1"), ("default", "2001:db8:62::1", "eth1")]
    assert [r["family"] for r in result["routes"]] == ["ipv4", "ipv6"]
    again = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL})
    assert again["changed"] is False and again["changes"] == [], again
    assert [(r["table"], r["priority"]) for r in again["routes"]] == [(1000, 1000), (1001, 1001)]


def test_check_mode_changes_nothing_and_reports_what_a_run_would_do(host, module_runner):
    before = rules_and_routes(host)
    check = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL}, check_mode=True)
    assert rules_and_routes(host) == before
    assert check["changed"] is True, check
    assert check["diff"]["after"]["ipv4 rules"] == ["1000: from 198.18.62.2 lookup 1000"]
    assert check["diff"]["before"]["ipv4 table 1000"] == []
    real = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL})
    assert real["changes"] == check["changes"] and real["routes"] == check["routes"]
    assert real["diff"] == check["diff"]
    after = rules_and_routes(host)
    assert module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL}, check_mode=True)["changed"] is False
    assert rules_and_routes(host) == after


def test_absent_removes_exactly_ours(host, module_runner):
    # A rule from the same address, but of a table and priority outside the ranges: not ours.
    host.ip("rule", "add", "from", "198.18.62.2", "lookup", "1500", "priority", "900")
    host.ip("route", "add", "10.0.0.0/8", "via", "198.18.63.1", "dev", "eth2", "table", "1500")
    host.ip("route", "add", "10.0.0.0/8", "via", "198.18.62.1", "dev", "eth1", "table", "1000")
    foreign = rules_and_routes(host)
    # Table 1000 holds a route not ours: the module takes 1001 for IPv4, 1002 for IPv6.
    result = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL})
    assert [(r["table"], r["priority"]) for r in result["routes"]] == [(1001, 1000), (1002, 1001)], result
    gone = module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL, "state": "absent"})
    assert gone["changed"] is True, gone
    assert rules_and_routes(host) == foreign
    assert module_runner("mptcp_source_routing", {"netns": host.name, "routes": DUAL, "state": "absent"})["changed"] is False


@pytest.mark.parametrize("setup, args, message", [
    ([["route", "add", "default", "via", "198.18.62.9", "dev", "eth1", "table", "1000"]], {"table": 1000},
     "table 1000 already holds 'default via 198.18.62.9 dev eth1' (IPv4), which mptcp_source_routing did not make: "
     "give routes[0].table another table"),
    ([["rule", "add", "fwmark", "1", "lookup", "1000", "priority", "5"]], {"table": 1000},
     "table 1000 is already looked up by rule '5: from all fwmark 0x1 lookup 1000' (IPv4)"),
    ([["rule", "add", "from", "198.18.63.2", "lookup", "1500", "priority", "1000"]], {"priority": 1000},
     "priority 1000 is already held by rule '1000: from 198.18.63.2 lookup 1500' (IPv4), which mptcp_source_routing "
     "did not make: give routes[0].priority another priority"),
])
def test_collisions_are_refused_and_nothing_changes(host, module_runner, setup, args, message):
    for argv in setup:
        host.ip(*argv)
    before = rules_and_routes(host)
    route = dict(DUAL[0], **args)
    result = module_runner("mptcp_source_routing", {"netns": host.name, "routes": [DUAL[1], route]})
    assert result.get("failed") is True, result
    assert message.replace("routes[0]", "routes[1]") in result["msg"]
    assert rules_and_routes(host) == before


def test_the_automatic_choice_skips_taken_ones_and_is_stable(host, module_runner):
    host.ip("rule", "add", "from", "all", "lookup", "1000", "priority", "1001")
    host.ip("-6", "route", "add", "2001:db8:99::/64", "dev", "eth1", "table", "1001")
    args = {"netns": host.name, "routes": [DUAL[0], {"address": "198.18.63.2", "gateway": "198.18.63.1", "dev": "eth2"}]}
    first = module_runner("mptcp_source_routing", args)
    assert [(r["table"], r["priority"]) for r in first["routes"]] == [(1002, 1000), (1003, 1002)], first
    # Another rule takes the next free ones: ours stay where they are.
    host.ip("rule", "add", "from", "all", "lookup", "1004", "priority", "1003")
    again = module_runner("mptcp_source_routing", dict(args, routes=list(reversed(args["routes"]))))
    assert again["changed"] is False
    assert sorted((r["table"], r["priority"]) for r in again["routes"]) == [(1002, 1000), (1003, 1002)]


def test_a_missing_device_or_an_address_not_on_it_is_refused(host, module_runner):
    before = rules_and_routes(host)
    missing = module_runner("mptcp_source_routing", {"netns": host.name, "routes": [dict(DUAL[0], dev="eth9")]})
    assert "routes[0].dev=eth9: there is no such interface" in missing["msg"], missing
    wrong = module_runner("mptcp_source_routing", {"netns": host.name, "routes": [dict(DUAL[0], dev="eth2")]})
    assert "routes[0].address=198.18.62.2 is not an address of eth2 (its addresses are 198.18.63.2/24" in wrong["msg"]
    assert rules_and_routes(host) == before


class RemovesALinkBeforeItsRoute:
    """The kernel backend, but `link` is deleted just before the first route on it is set:
    the device goes away between the plan (which found it) and the step that needs it."""

    def __init__(self, backend, ns, link):
        self.backend, self.ns, self.link = backend, ns, link

    def replace_route(self, route, src=None):
        if self.link and route["dev"] == self.link:
            self.ns.ip("link", "delete", self.link)
            self.link = None
        return self.backend.replace_route(route, src)

    def __getattr__(self, name):
        return getattr(self.backend, name)


class Host:
    """What routing/ensure.py needs of a module's host, for calling it directly."""

    def __init__(self, run):
        self.run = run
        self.diff = True

    def bin_path(self, name, required=False):
        return shutil.which(name) if name != "nmcli" else None

    def warn(self, message):
        raise AssertionError(message)


def without_eth2(state):
    """A state less what names eth2 or its subnet (gone with the link)."""
    return dict((key, [item for item in value if "eth2" not in json.dumps(item) and "198.18.63" not in json.dumps(item)])
                for key, value in state.items())


def test_a_step_refused_midway_undoes_the_steps_before_it(host):
    before = rules_and_routes(host)
    params = {"netns": host.name, "state": "present", "via": "kernel", "table_range": [1000, 1999],
              "priority_range": [1000, 1999], "routes": [DUAL[0], {"address": "198.18.63.2", "gateway": "198.18.63.1",
                                                                   "dev": "eth2", "table": None, "priority": None}]}
    run = Run(Request(params), False, Host(host.ip_runner))
    run.backend = RemovesALinkBeforeItsRoute(run.backend, host, "eth2")
    with pytest.raises(MptcpError) as error:
        run.run()
    message = str(error.value)
    assert "adding route '198.18.63.0/24 dev eth2' to table 1001 failed" in message
    assert "The 3 step(s) already done were undone" in message
    # eth2 and its own routes went with the link; everything else is as it was.
    assert without_eth2(rules_and_routes(host)) == without_eth2(before)
    assert our_rules(host) == []


def test_the_examples_run_as_written(netns, examples_runner):
    """The module's EXAMPLES, in a namespace whose eth1 has their addresses, with a
    gateway-less default route: they end with the address's rule and routes removed."""
    netns.add_interface("eth0", "192.0.2.10/24")
    netns.add_interface("eth1", "198.51.100.20/24")
    netns.ip("address", "add", "2001:db8:2::20/64", "dev", "eth1", "nodad")
    netns.ip("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
    run = examples_runner("mptcp_source_routing", substitutions=[("netns: blue", "netns: " + netns.name)],
                          inside_netns=netns.name)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed=0" in run.stdout
    assert our_rules(netns, 4) == [] and table(netns, 1100) == [] and table(netns, 1000) == []
    assert our_rules(netns, 6) == [(1106, "2001:db8:2::20", "1106")]


def rules_with_prefix(ns):
    """(priority, src/len, table) of the IPv4 rules that select a source, as the kernel has them."""
    return [(r["priority"], "%s/%s" % (r["src"], r.get("srclen", 32)), r["table"]) for r in ip_j(ns, "rule", "show")
            if r["src"] != "all"]


def test_exclusive_removes_the_rules_of_ours_of_unlisted_addresses_and_nothing_else(host, module_runner):
    both = [DUAL[0], {"address": "198.18.63.2", "gateway": "198.18.63.1", "dev": "eth2"}]
    first = module_runner("mptcp_source_routing", {"netns": host.name, "routes": both})
    assert [(r["table"], r["priority"]) for r in first["routes"]] == [(1000, 1000), (1001, 1001)], first
    # Not ours: a subnet's rule inside the ranges, a single address's rule with its
    # priority outside them, a single address's rule whose table holds a route we never make.
    host.ip("rule", "add", "from", "198.18.63.0/24", "lookup", "1500", "priority", "1500")
    host.ip("route", "add", "default", "via", "198.18.63.1", "dev", "eth2", "table", "1500")
    host.ip("rule", "add", "from", "198.18.63.7", "lookup", "1600", "priority", "900")
    host.ip("route", "add", "default", "via", "198.18.63.1", "dev", "eth2", "table", "1600")
    host.ip("rule", "add", "from", "198.18.63.8", "lookup", "1700", "priority", "1700")
    host.ip("route", "add", "10.0.0.0/8", "via", "198.18.63.1", "dev", "eth2", "table", "1700")
    args = {"netns": host.name, "routes": [DUAL[0]], "exclusive": True}
    before = rules_and_routes(host)
    check = module_runner("mptcp_source_routing", args, check_mode=True)
    assert rules_and_routes(host) == before
    assert check["changed"] is True and check["changes"] == [
        "delete IPv4 rule '1001: from 198.18.63.2 lookup 1001' (address not listed)",
        "delete route 'default via 198.18.63.1 dev eth2' from IPv4 table 1001 (address not listed)",
        "delete route '198.18.63.0/24 dev eth2' from IPv4 table 1001 (address not listed)"], check
    assert check["diff"]["after"]["ipv4 table 1001"] == [] and check["diff"]["before"]["ipv4 table 1001"] != []
    assert any("1700: from 198.18.63.8 lookup 1700" in warning for warning in check.get("warnings", [])), check
    real = module_runner("mptcp_source_routing", args)
    assert real["changes"] == check["changes"] and real["diff"] == check["diff"]
    # The listed address keeps its rule and table; the unlisted one of ours is gone, table too.
    assert rules_with_prefix(host) == [(900, "198.18.63.7/32", "1600"), (1000, "198.18.62.2/32", "1000"),
                                       (1500, "198.18.63.0/24", "1500"), (1700, "198.18.63.8/32", "1700")]
    assert table(host, 1000) == [("198.18.62.0/24", None, "eth1"), ("default", "198.18.62.1", "eth1")]
    assert table(host, 1001) == []
    assert table(host, 1500) == table(host, 1600) == [("default", "198.18.63.1", "eth2")]
    assert table(host, 1700) == [("10.0.0.0/8", "198.18.63.1", "eth2")]
    again = module_runner("mptcp_source_routing", args)
    assert again["changed"] is False and again["changes"] == [], again
    # Nothing listed: the last rule of ours goes too.
    empty = module_runner("mptcp_source_routing", dict(args, routes=[]))
    assert empty["changed"] is True and empty["routes"] == [], empty
    assert [rule[1] for rule in rules_with_prefix(host)] == ["198.18.63.7/32", "198.18.63.0/24", "198.18.63.8/32"]
    assert table(host, 1000) == []


def test_exclusive_is_refused_with_state_absent(host, module_runner):
    before = rules_and_routes(host)
    result = module_runner("mptcp_source_routing", {"netns": host.name, "routes": [], "exclusive": True, "state": "absent"})
    assert result.get("failed") is True and "exclusive=true is for state=present" in result["msg"], result
    assert rules_and_routes(host) == before
