"""mptcp_transfer's diagnosis of joins (the `joins` result) in the routed-single-homed
topology of the lab, built from network namespaces: a client with two uplinks, eth0
(198.18.80.20) to router r1 and eth1 (198.18.81.20) to router r2, and one default route
(via r1); a server with one address (198.18.82.10) on a bridge shared with both routers,
and one default route (via r1); r1 knows 198.18.81.0/24 through r2, r2 knows
198.18.80.0/24 through r1. The client's path manager has a subflow endpoint on eth1 (set
with `ip mptcp`, not the collection's modules).

Oracles outside the collection: `ip route get fibmatch` and the MPTcpExt counters of
/proc/net/netstat, read by the test itself, and the routers' byte counters in
/sys/class/net."""

import time

import pytest

PORT = 5230
SERVER = "198.18.82.10"
CLIENT_ETH1 = "198.18.81.20"
R2_ON_B = "198.18.81.3"
SIZE = "8MiB"
SHAPE = ["tbf", "rate", "50mbit", "burst", "32kbit", "latency", "50ms"]
NO_ROUTE = "no route from 198.18.81.20 via eth1 to 198.18.82.10: give this endpoint its gateway"


def netstat(ns):
    lines = [line.split() for line in ns.exec("cat", "/proc/net/netstat").stdout.splitlines()
             if line.startswith("MPTcpExt:")]
    return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:])))


def tx_bytes(ns, link):
    return int(ns.exec("cat", "/sys/class/net/%s/statistics/tx_bytes" % link).stdout)


class Routed:
    def __init__(self, make_netns):
        self.client, self.r1, self.r2, self.server, switch = (make_netns() for role in ("client", "r1", "r2", "server", "switch"))
        self.client.link_to(self.r1, "eth0", "a0", "198.18.80.20/24", "198.18.80.2/24")
        self.client.link_to(self.r2, "eth1", "b0", "198.18.81.20/24", "198.18.81.3/24")
        # Net S: a bridge in a namespace of its own, with the server and both routers on it.
        switch.ip("link", "add", "sw0", "type", "bridge")
        switch.ip("link", "set", "sw0", "up")
        for index, (ns, address) in enumerate(((self.server, SERVER), (self.r1, "198.18.82.2"),
                                              (self.r2, "198.18.82.3"))):
            ns.link_to(switch, "eths", "port%d" % index, address + "/24")
            switch.ip("link", "set", "port%d" % index, "master", "sw0")
        for router in (self.r1, self.r2):
            router.exec("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0")
        self.client.ip("route", "add", "default", "via", "198.18.80.2", "dev", "eth0")
        self.server.ip("route", "add", "default", "via", "198.18.82.2")
        self.r2.ip("route", "add", "198.18.80.0/24", "via", "198.18.82.2")
        self.client.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "1")
        self.client.ip("mptcp", "endpoint", "add", CLIENT_ETH1, "dev", "eth1", "subflow")
        self.server.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
        for link in ("eth0", "eth1"):
            self.client.exec("tc", "qdisc", "replace", "dev", link, "root", *SHAPE)

    def r1_knows_b(self):
        self.r1.ip("route", "add", "198.18.81.0/24", "via", "198.18.82.3")

    def source_routing(self):
        """What the issue's note does by hand."""
        self.client.ip("rule", "add", "from", CLIENT_ETH1, "table", "102")
        self.client.ip("route", "add", "default", "via", R2_ON_B, "dev", "eth1", "table", "102")

    def fibmatch(self):
        """The test's own look: what `ip route get fibmatch` from eth1's address through eth1 prints."""
        found = self.client.exec("ip", "route", "get", "fibmatch", SERVER, "from", CLIENT_ETH1, "oif", "eth1",
                                 check=False)
        return found.stdout + found.stderr

    def transfer(self, start_module, run_module):
        server = start_module("mptcp_transfer", {"role": "server", "port": PORT, "timeout": 60},
                              inside_netns=self.server.name)
        deadline = time.monotonic() + 60  # a bound, not a measurement
        while not self.server.exec("ss", "-HlnM", "sport", "= :%d" % PORT).stdout.strip():
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.05)
        before = netstat(self.client), tx_bytes(self.r2, "eths")
        client = run_module("mptcp_transfer", {"role": "client", "address": SERVER, "port": PORT,
                                               "size": SIZE, "timeout": 45}, inside_netns=self.client.name)
        server.result(timeout=90)
        after = netstat(self.client), tx_bytes(self.r2, "eths")
        moved = dict((name, after[0][name] - before[0].get(name, 0)) for name in after[0])
        return client, moved, after[1] - before[1]


@pytest.fixture
def routed(make_netns):
    return Routed(make_netns)


def test_no_route_from_the_second_uplink_is_named(routed, module_starter, module_runner):
    routed.r1_knows_b()
    client, moved, _through_r2 = routed.transfer(module_starter, module_runner)
    assert client["mptcp"] is True and client["checksum_matched"] is True, client.get("msg")
    assert client["subflows_max"] == 1
    # The kernel sent the join and nothing answered it, and it has no route through eth1.
    assert moved["MPJoinSynTx"] >= 1 and moved["MPJoinSynAckRx"] == 0
    assert "No route to host" in routed.fibmatch()
    joins = client["joins"]
    assert joins["problems"] == [NO_ROUTE]
    assert joins["counters"]["MPJoinSynTx"] == moved["MPJoinSynTx"]
    assert [(a["address"], a["dev"], a["established"]) for a in joins["addresses"]] == [(CLIENT_ETH1, "eth1", False)]


def test_source_routing_by_hand_gives_two_subflows_and_no_line(routed, module_starter, module_runner):
    routed.r1_knows_b()
    routed.source_routing()
    client, moved, through_r2 = routed.transfer(module_starter, module_runner)
    assert client["subflows_max"] == 2, client["joins"]
    assert moved["MPJoinSynAckRx"] >= 1
    # The second subflow's data went through r2 (8 MiB over two equal links: about half).
    assert through_r2 >= 8 * 1048576 // 5
    assert client["joins"]["problems"] == []
    assert client["joins"]["addresses"][0]["routes"][0]["gateway"] == R2_ON_B


def test_replies_that_do_not_come_back_are_named(routed, module_starter, module_runner):
    # The client routes its eth1 address well, but r1, the server's default gateway, does
    # not know the client's second network: the server's SYN-ACKs to it are dropped there.
    routed.source_routing()
    client, moved, _through_r2 = routed.transfer(module_starter, module_runner)
    assert client["subflows_max"] == 1
    assert moved["MPJoinSynTx"] >= 1 and moved["MPJoinSynAckRx"] == 0
    assert client["joins"]["problems"] == [
        "joins from 198.18.81.20 sent %d, answered 0: the server's replies to 198.18.81.20 do not come back "
        "(its return route or a strict rp_filter)" % moved["MPJoinSynTx"]]
