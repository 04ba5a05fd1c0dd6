"""mptcp.linux.mptcp_transfer through Ansible between two network namespaces of each test,
joined by two veth pairs: 198.18.101.0/24 (c1 - s1, the initial path) and 198.18.102.0/24
(c2 - s2). The server signals its second address, the client accepts one announced
address, as the guides set it up (with `ip -n NS mptcp`, not the collection's modules).
The server runs in the background in its namespace, the client in its own. Every
transfer is bounded in bytes and seconds; the namespaces, with their links and qdiscs, go
with the test however it ends.

The module reports on itself (subflows, counters, checksum); where a test relies on such a
claim it also checks it with oracles outside the collection, read by the test itself:
`ss -Mni` and `ss -tni` sampled while the data flows, the namespaces' MPTcpExt counters in
/proc/net/netstat, the veth links' byte counters in /sys/class/net, and the data itself
against a receiver and a sender of the test's own (molecule/shared/wire.py: plain MPTCP
sockets) with hashlib on data the test generated and sha256sum on the file a receiver
wrote."""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 5210
SERVER_ADDRESS = "198.18.101.1"
SIGNALLED = "198.18.102.1"
# tc as the issue shapes the lab: the same rate on both client links.
SHAPE = ["tbf", "rate", "50mbit", "burst", "32kbit", "latency", "50ms"]


# --- oracles outside the collection -------------------------------------------------------

def netstat(ns):
    """The namespace's MPTcpExt counters, from /proc/net/netstat as the test reads it."""
    lines = [line.split() for line in ns.exec("cat", "/proc/net/netstat").stdout.splitlines()
             if line.startswith("MPTcpExt:")]
    names, values = lines
    return dict(zip(names[1:], (int(value) for value in values[1:])))


def deltas(before, after):
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


def link_bytes(ns, *links):
    """{link: (tx_bytes, rx_bytes)} from /sys/class/net (`ip netns exec` mounts the
    namespace's own sysfs)."""
    found = {}
    for link in links:
        found[link] = tuple(int(ns.exec("cat", "/sys/class/net/%s/statistics/%s" % (link, counter)).stdout)
                            for counter in ("tx_bytes", "rx_bytes"))
    return found


class Counters:
    """MPTcpExt and the veth links' bytes on both sides, before and after: .mptcp[side]
    and .sent[link] (the client's tx bytes of c1, c2) once stopped."""

    def __init__(self, pair):
        self.pair = pair
        self._before = self._read()

    def _read(self):
        return (netstat(self.pair.client), netstat(self.pair.server), link_bytes(self.pair.client, "c1", "c2"))

    def stop(self):
        client, server, links = self._read()
        self.mptcp = {"client": deltas(self._before[0], client), "server": deltas(self._before[1], server)}
        self.sent = {link: links[link][0] - self._before[2][link][0] for link in links}
        return self


class SocketWatch(threading.Thread):
    """`ss` in the client's namespace, sampled until stopped: the most `subflows:N` that
    `ss -Mni` showed for an MPTCP connection to the port (extra subflows, the initial one
    not counted), and every established TCP subflow (`ss -tni`, marked tcp-ulp-mptcp) as
    (local address, remote address)."""

    SUBFLOWS = re.compile(r"(?<![\w])subflows:(\d+)")

    def __init__(self, ns, port=PORT):
        threading.Thread.__init__(self, name="ss-watch", daemon=True)
        self.ns = ns
        self.port = port
        self.extra_subflows = 0
        self.tcp_subflows = set()
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            mptcp = self.ns.exec("ss", "-HMni", "state", "established", "dport", "= :%d" % self.port).stdout
            for count in self.SUBFLOWS.findall(mptcp):
                self.extra_subflows = max(self.extra_subflows, int(count))
            tcp = self.ns.exec("ss", "-Htni", "state", "established", "dport", "= :%d" % self.port).stdout
            # ss -H prints each socket on one line, its details on the next one.
            rows = tcp.splitlines()
            for row, details in zip(rows, rows[1:] + [""]):
                words = row.split()
                if len(words) >= 4 and ":" in words[-1] and "tcp-ulp-mptcp" in details:
                    self.tcp_subflows.add((words[-2].rsplit(":", 1)[0], words[-1].rsplit(":", 1)[0]))
            self.samples += 1
            self._done.wait(0.02)

    def stop(self):
        self._done.set()
        self.join(10)
        return self


def assert_both_paths_carried(counters, watch, size):
    """Two subflows, one per path, and each path carried a real share of the data: what
    `ss`, the MPTcpExt counters and the links' counters say, never the module's report.
    Every oracle is checked and each one that disagrees is named in the failure."""
    problems = []
    if watch.samples == 0:
        problems.append("ss: never sampled")
    if watch.extra_subflows != 1:
        problems.append("ss -Mni: subflows:%d, expected subflows:1 (one extra)" % watch.extra_subflows)
    paths = {("198.18.101.2", SERVER_ADDRESS), ("198.18.102.2", SIGNALLED)}
    if watch.tcp_subflows != paths:
        problems.append("ss -tni: TCP subflows %s, expected %s" % (sorted(watch.tcp_subflows), sorted(paths)))
    for side, names in (("client", ("MPCapableSYNTX", "MPJoinSynTx", "MPJoinSynAckRx", "AddAddr")),
                        ("server", ("MPCapableSYNRX", "MPJoinSynRx", "MPJoinAckRx", "AddAddrTx"))):
        moved = {name: counters.mptcp[side].get(name, 0) for name in names}
        if moved != dict.fromkeys(names, 1):
            problems.append("MPTcpExt of the %s moved %s, expected +1 each" % (side, moved))
    if sum(counters.sent.values()) < size:
        problems.append("the links sent %s bytes in all, less than the %d of the data" % (counters.sent, size))
    for link, sent in sorted(counters.sent.items()):
        # Both links are shaped to the same rate: a path that carried less than a fifth
        # of the data was a spare, not a path in use.
        if sent < size // 5:
            problems.append("%s sent %d bytes, less than a fifth of the %d of the data" % (link, sent, size))
    assert problems == [], "\n".join(problems)


# A receiver and a sender of the test's own, which the multipath scenario also uses.
WIRE = os.path.join(REPO, "molecule", "shared", "wire.py")


class Outside:
    """wire.py in a namespace (receive or send), bounded by its timeout, killed after the
    test if it still runs."""

    def __init__(self):
        self.started = []

    def start(self, ns, *args):
        proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, WIRE] + [str(arg) for arg in args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started.append(proc)
        return proc

    def receiver(self, ns, path, port=PORT):
        """The other end of mptcp_transfer's client (it connects again until this listens)."""
        return self.start(ns, "receive", port, path, 45, "--answer")

    def sender(self, ns, path, address=SERVER_ADDRESS, port=PORT):
        return self.start(ns, "send", address, port, path, 45)

    def stop(self):
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture
def outside():
    made = Outside()
    try:
        yield made
    finally:
        made.stop()


def sha256sum(path):
    """The digest as coreutils' sha256sum computes it: another program than the module."""
    return subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]


class Pair:
    """The two namespaces and how to run a transfer between them."""

    def __init__(self, server, client, run_module, start_module):
        self.server = server
        self.client = client
        self._run_module = run_module
        self._start_module = start_module

    def start_server(self, **args):
        args = dict({"role": "server", "port": PORT, "timeout": 60}, **args)
        return self._start_module("mptcp_transfer", args, inside_netns=self.server.name)

    def client_run(self, check_mode=False, **args):
        args = dict({"role": "client", "address": SERVER_ADDRESS, "port": PORT, "timeout": 45}, **args)
        return self._run_module("mptcp_transfer", args, check_mode=check_mode, inside_netns=self.client.name)

    def transfer(self, server=None, **client):
        """A server in the background, then the client -> (client result, server result)."""
        running = self.start_server(**(server or {}))
        self.wait_for_listener()
        client_result = self.client_run(**client)
        return client_result, running.result(timeout=90)

    def wait_for_listener(self):
        """Until the server module listens: a client started earlier has its first SYN
        refused and retries, which moves MPCapableSYNTX twice and fails the counters' +1."""
        deadline = time.monotonic() + 60  # a bound, not a measurement: it listens in about a second

        def listening():  # an MPTCP listener (ss -M) or, for the plain TCP server, a TCP one
            return any(self.server.exec("ss", "-Hln", kind, "sport", "= :%d" % PORT).stdout.strip()
                       for kind in ("-M", "-t"))

        while not listening():
            assert time.monotonic() < deadline, "the server module never listened on port %d" % PORT
            time.sleep(0.05)

    def shape(self):
        for link in ("c1", "c2"):
            self.client.exec("tc", "qdisc", "replace", "dev", link, "root", *SHAPE)


@pytest.fixture
def pair(make_netns, module_runner, module_starter):
    server, client = make_netns(), make_netns()
    client.link_to(server, "c1", "s1", "198.18.101.2/24", "198.18.101.1/24")
    client.link_to(server, "c2", "s2", "198.18.102.2/24", "198.18.102.1/24")
    server.ip("mptcp", "endpoint", "add", SIGNALLED, "dev", "s2", "signal")
    server.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
    client.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "1")
    return Pair(server, client, module_runner, module_starter)


def types(result):
    return [event["type"] for event in result["events"]]


def story(*results):
    """What a failed assertion shows: each side's events, counters and subflow counts."""
    return "\n".join("%s: %s\n  counters %s\n  subflows %s %s" % (
        result.get("role"), "\n  ".join(event["line"] for event in result.get("events", [])),
        result.get("counters"), result.get("subflows_changes"),
        [(c.get("subflows_max"), c.get("subflows_end")) for c in result.get("connections", [])])
        for result in results)


def test_mptcp_with_two_subflows(pair):
    # Shaped, so that the transfer lasts long enough for the join (unshaped veth moves
    # 8 MiB in ~15 ms: the data can be through before the client's path manager acts on
    # the ADD_ADDR, and then no second subflow is opened at all).
    pair.shape()
    counters, watch = Counters(pair), SocketWatch(pair.client)
    watch.start()
    try:
        client, server = pair.transfer(size="8M", seed=3)
    finally:
        watch.stop()
    counters.stop()
    print("\noutside the module: ss subflows:%d, TCP subflows %s, MPTcpExt %s, sent per link %s" % (
        watch.extra_subflows, sorted(watch.tcp_subflows), counters.mptcp, counters.sent))
    # First what the kernel and the links say, then what the module says of itself.
    assert_both_paths_carried(counters, watch, 8 << 20)
    assert not client.get("failed"), client
    assert client["changed"] is False
    assert client["mptcp"] is True and client["fallback"] is False and client["fallback_reason"] is None
    assert client["negotiated_by"] == "TCP_IS_MPTCP"  # Linux 6.10+
    assert client["subflows_max"] == 2 and client["subflows_end"] == 2, story(client, server)
    assert client["checksum_matched"] is True and client["bytes"] == 8 << 20
    assert client["local_address"] == "198.18.101.2"
    assert sorted((path["state"], path["local"], path["remote"]) for path in client["paths"]) == [
        ("established", "198.18.101.2", SERVER_ADDRESS), ("established", "198.18.102.2", SIGNALLED)]
    for counter in ("MPCapableSYNTX", "MPCapableSYNACKRX", "MPJoinSynTx", "MPJoinSynAckRx", "AddAddr"):
        assert client["counters"].get(counter) == 1, (counter, client["counters"])
    for kind in ("created", "established", "announced", "sf_established", "closed"):
        assert kind in types(client), client["events"]
    assert types(client)[:2] == ["created", "established"] and types(client)[-1] == "closed"
    assert {event["token"] for event in client["events"]} == {client["token"]}
    joined = [event for event in client["events"] if event["type"] == "sf_established"][0]
    assert (joined["saddr"], joined["daddr"]) == ("198.18.102.2", SIGNALLED)
    assert joined["line"].startswith("[  SF_ESTABLISHED] token=%s " % client["token"])

    assert not server.get("failed"), server
    [seen] = server["connections"]
    assert seen == client["server"]
    assert seen["protocol"] == "mptcp" and seen["mptcp"] is True and seen["subflows_max"] == 2
    assert seen["bytes"] == 8 << 20 and seen["digest"] == client["digest"]
    for counter in ("MPCapableSYNRX", "MPCapableACKRX", "MPJoinSynRx", "MPJoinAckRx", "AddAddrTx"):
        assert server["counters"].get(counter) == 1, (counter, server["counters"])
    assert types(server)[:2] == ["created", "established"] and "sf_established" in types(server)
    assert all(event.get("server_side") for event in server["events"] if event["type"] == "created")
    print("\nclient events:\n" + "\n".join(event["line"] for event in client["events"]))


@pytest.mark.parametrize("fail_interface", [None, "c1", "c2"])
def test_what_the_module_client_sent_arrived_whole(pair, outside, tmp_path, fail_interface):
    """The module's client against a receiver of the test's own, which writes what it got
    to a file: sha256sum of that file is the client's digest, byte for byte, over both
    paths and with either link taken down mid-transfer (zero bytes lost)."""
    pair.shape()
    received = str(tmp_path / "received")
    receiver = outside.receiver(pair.server, received)
    counters, watch = Counters(pair), SocketWatch(pair.client)
    watch.start()
    try:
        args = {"fail_interface": fail_interface, "fail_after_fraction": 0.3} if fail_interface else {}
        client = pair.client_run(size="12M", seed=7, **args)
    finally:
        watch.stop()
    counters.stop()
    err = receiver.communicate(timeout=30)[1]
    assert receiver.returncode == 0, err
    assert os.path.getsize(received) == 12 << 20
    assert sha256sum(received) == client["digest"], story(client)
    if fail_interface is None:
        # With a link down for most of the transfer, that path's share is small by design.
        assert_both_paths_carried(counters, watch, 12 << 20)
    assert not client.get("failed"), client
    assert client["checksum_matched"] is True and client["mptcp"] is True


def test_what_the_module_server_received_is_what_was_sent(pair, outside, tmp_path):
    """A sender of the test's own sends data the test generated (os.urandom) to the
    module's server: the server's report (bytes, digest) is what hashlib says of that data."""
    pair.shape()
    data = os.urandom(12 << 20)
    sent = tmp_path / "sent"
    sent.write_bytes(data)
    running = pair.start_server()
    sender = outside.sender(pair.client, str(sent))
    out, err = sender.communicate(timeout=60)
    server = running.result(timeout=90)
    assert sender.returncode == 0, err
    [seen] = server["connections"]
    assert (seen["bytes"], seen["digest"]) == (len(data), hashlib.sha256(data).hexdigest())
    # What the server answered the sender is what it reports to Ansible.
    assert json.loads(json.loads(out)["answer"]) == seen
    assert not server.get("failed"), server
    assert seen["mptcp"] is True


def test_late_join_still_reaches_the_listener(pair):
    """The first MP_JOIN SYN is dropped (nft, on the client), so the join comes a second
    later, after the server accepted the connection: the server's listener must still be
    open then, or the kernel answers RST and the subflow is refused (SF_CLOSED error=111;
    seen once through Ansible's async before the server kept its listener)."""
    pair.shape()
    for command in ("add table inet late", "add chain inet late out { type filter hook output priority 0; }",
                    "add rule inet late out ip daddr %s tcp flags syn quota until 100 bytes drop" % SIGNALLED):
        pair.client.exec("nft", command)
    client, server = pair.transfer(size="16M")
    assert "sf_established" in types(client), story(client, server)
    refused = [event for event in client["events"] if event["type"] == "sf_closed" and event.get("error") == 111]
    assert refused == [], story(client, server)
    assert client["subflows_max"] == 2 and server["connections"][0]["subflows_max"] == 2, story(client, server)


def test_server_serves_two_clients_at_once(pair, module_starter):
    pair.shape()
    running = pair.start_server(connections=2)
    other = module_starter("mptcp_transfer", {"role": "client", "address": SIGNALLED, "port": PORT, "size": "4M",
                                              "seed": 2, "timeout": 45}, inside_netns=pair.client.name)
    first = pair.client_run(size="4M", seed=1)
    second = other.result(timeout=90)
    server = running.result(timeout=90)
    assert not server.get("failed"), server
    assert first["checksum_matched"] and second["checksum_matched"] and first["digest"] != second["digest"]
    assert sorted(report["digest"] for report in server["connections"]) == sorted([first["digest"], second["digest"]])
    assert {report["peer_port"] for report in server["connections"]} == {first["local_port"], second["local_port"]}
    assert {event["token"] for event in server["events"]} == {report["token"] for report in server["connections"]}


def test_plain_tcp_is_not_mptcp(pair):
    client, server = pair.transfer(server={"protocol": "tcp"}, protocol="tcp", size="4M")
    assert not client.get("failed"), client
    assert client["mptcp"] is False and client["fallback"] is False and client["negotiated_by"] == "protocol"
    assert client["subflows_max"] == 1 and client["checksum_matched"] is True
    assert client["events"] == [] and "MPCapableSYNTX" not in client["counters"]
    assert server["connections"][0]["protocol"] == "tcp" and server["connections"][0]["mptcp"] is False


def test_fallback_to_a_plain_tcp_server(pair):
    client, server = pair.transfer(server={"protocol": "tcp"}, size="4M")
    assert not client.get("failed"), client
    assert client["mptcp"] is False and client["fallback"] is True
    assert client["counters"] == {"MPCapableSYNTX": 1, "MPCapableFallbackSYNACK": 1}
    assert client["fallback_reason"].startswith("the server answered without MP_CAPABLE")
    assert "MPCapableFallbackSYNACK +1" in client["fallback_reason"]
    assert client["subflows_max"] == 1 and client["checksum_matched"] is True
    assert server["connections"][0]["protocol"] == "tcp"


def test_mptcp_listener_plain_tcp_client(pair):
    client, server = pair.transfer(protocol="tcp", size="1M")
    assert client["checksum_matched"] is True and client["mptcp"] is False
    assert server["connections"][0]["protocol"] == "tcp" and server["connections"][0]["mptcp"] is False
    assert server["counters"].get("MPCapableSYNRX") is None and server["events"] == []


@pytest.mark.parametrize("protocol, mptcp", [("mptcp", True), ("tcp", False)])
def test_probe_a_service(pair, module_runner, protocol, mptcp):
    """role=probe connects over MPTCP to whatever listens and closes at once."""
    pair.start_server(protocol=protocol, timeout=10)
    result = module_runner("mptcp_transfer", {"role": "probe", "address": SERVER_ADDRESS, "port": PORT,
                                              "timeout": 10}, inside_netns=pair.client.name)
    assert not result.get("failed"), result
    assert result["mptcp"] is mptcp and result["fallback"] is not mptcp
    if mptcp:
        assert result["negotiated_by"] == "TCP_IS_MPTCP" and result["fallback_reason"] is None
    else:
        assert "MPCapableFallbackSYNACK +1" in result["fallback_reason"]


def test_mptcp_disabled_in_the_client_namespace(pair):
    pair.client.exec("sysctl", "-q", "-w", "net.mptcp.enabled=0")
    result = pair.client_run(timeout=5)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot open an MPTCP socket: MPTCP is disabled in this network namespace "
                                    "(net.mptcp.enabled = 0)")


def links(ns):
    return dict((link["ifname"], link) for link in ns.ip_json("address", "show"))


@pytest.mark.parametrize("link, initial", [("c2", False), ("c1", True)])
def test_failover(pair, link, initial):
    pair.shape()
    # What the kernel drops with a link and the module must put back.
    pair.client.ip("-6", "address", "add", "2001:db8:101::2/64", "dev", link, "nodad")
    pair.client.ip("route", "add", "198.18.200.0/24", "via", "198.18.10%s.1" % link[1], "dev", link)
    before = links(pair.client)[link]
    client, server = pair.transfer(size="24M", fail_interface=link, fail_after_fraction=0.3, events=True)
    assert not client.get("failed"), client
    failover = client["failover"]
    assert failover["interface"] == link and failover["initial_subflow"] is initial
    assert failover["after_bytes"] == int((24 << 20) * 0.3)
    assert failover["subflows_before"] == 2 and failover["completed"] is True
    # Zero bytes lost: all of them arrived, in order, once.
    assert client["checksum_matched"] is True
    assert server["connections"][0]["bytes"] == 24 << 20 and server["connections"][0]["digest"] == client["digest"]
    assert client["mptcp"] is True and client["counters"].get("SubflowStale", 0) >= 1
    # Restored as it was: up, the IPv6 address and the static route back.
    assert failover["restored"] is True and failover["addresses_readded"] == ["2001:db8:101::2/64"]
    assert failover["routes_restored"] >= 1
    after = links(pair.client)[link]
    assert "UP" in after["flags"] and after["operstate"] == "UP"
    assert sorted(a["local"] for a in after["addr_info"] if a["scope"] == "global") == \
        sorted(a["local"] for a in before["addr_info"] if a["scope"] == "global")
    assert "198.18.200.0/24" in [route["dst"] for route in pair.client.ip_json("route", "show", "dev", link)]
    print("\nfailover of %s (initial subflow: %s): %s; %.1f Mbit/s overall, subflow counts %s" % (
        link, initial, json.dumps(failover, sort_keys=True), client["mbit_per_s"], client["subflows_changes"]))


def test_throughput_two_paths_against_one(pair):
    pair.shape()
    size = "24M"
    tcp, _server = pair.transfer(server={"protocol": "tcp"}, protocol="tcp", size=size, events=False)
    mptcp, _server = pair.transfer(size=size, events=False)
    assert tcp["checksum_matched"] and mptcp["checksum_matched"]
    assert mptcp["mptcp"] is True and mptcp["subflows_max"] == 2
    ratio = mptcp["mbit_per_s"] / tcp["mbit_per_s"]
    print("\nshaped %s on c1 and c2: TCP %.1f Mbit/s, MPTCP %.1f Mbit/s, ratio %.2f" % (
        " ".join(SHAPE), tcp["mbit_per_s"], mptcp["mbit_per_s"], ratio))
    assert ratio > 1.3


def test_server_alone_stops_at_its_timeout_and_leaves_nothing(pair):
    started = time.monotonic()
    result = pair.start_server(timeout=2).result(timeout=60)
    assert result["failed"] is True and result["timed_out"] is True
    assert result["msg"] == "served 0 of 1 connection(s) on 0.0.0.0 port %d within 2 s (no client came)" % PORT
    assert time.monotonic() - started < 30
    assert pair.server.pids() == []
    assert pair.server.exec("ss", "-Htanp").stdout.strip() == ""


def test_client_gives_up_and_restores_the_link(pair):
    # Nothing listens: the client retries until its timeout, never takes the link down.
    result = pair.client_run(timeout=2, fail_interface="c1")
    assert result["failed"] is True and result["msg"].startswith("cannot connect to 198.18.101.1 port 5210")
    assert result["failover"] is None
    assert "UP" in links(pair.client)["c1"]["flags"]
    assert pair.client.pids() == []


def test_server_stops_a_transfer_longer_than_its_timeout(pair):
    pair.shape()
    running = pair.start_server(timeout=3)
    # The client may not even hear of it (its link c2 is down, the MPTCP reset can be lost
    # with it): its own timeout ends it.
    client = pair.client_run(size="256M", timeout=8, fail_interface="c2", fail_after_bytes=1 << 20)
    server = running.result(timeout=60)
    assert server["failed"] is True and server["connections"][0]["error"] == "timed out before the client finished"
    assert client["failed"] is True and client["checksum_matched"] is False
    # The link came back although the transfer failed.
    assert client["failover"]["restored"] is True and client["failover"]["completed"] is False
    assert "UP" in links(pair.client)["c2"]["flags"]
    assert pair.server.pids() == [] and pair.client.pids() == []


def test_check_mode_does_nothing(pair):
    result = pair.client_run(check_mode=True, fail_interface="c1")
    assert result["changed"] is False and result["msg"] == "check mode: nothing was sent or listened on"
    assert "UP" in links(pair.client)["c1"]["flags"]
    assert pair.client.pids() == []


def test_check_mode_server_does_not_listen(pair, module_runner):
    result = module_runner("mptcp_transfer", {"role": "server", "port": PORT}, check_mode=True,
                           inside_netns=pair.server.name)
    assert result["changed"] is False and "failed" not in result
    assert pair.server.exec("ss", "-Htln").stdout.strip() == ""


@pytest.mark.parametrize("args, message", [
    ({"fail_interface": "eth9"}, "fail_interface 'eth9' does not exist on this host"),
    ({"size": "2G"}, "size '2G' is out of range"),
    ({"bind_address": "198.18.101.9"}, "cannot connect to 198.18.101.1 port 5210 from 198.18.101.9: "),
])
def test_bad_inputs_fail_clearly(pair, args, message):
    result = pair.client_run(timeout=3, **args)
    assert result["failed"] is True and message in result["msg"], result["msg"]


def test_events_refused_without_cap_net_admin(pair, module_runner):
    running = pair.start_server()
    argv_prefix = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "--"]
    result = module_runner("mptcp_transfer", {"role": "client", "address": SERVER_ADDRESS, "port": PORT,
                                              "size": "1M", "timeout": 20},
                           inside_netns=pair.client.name, wrap=argv_prefix)
    running.result(timeout=60)
    assert not result.get("failed"), result
    assert result["mptcp"] is True and result["events"] == []
    assert any("cannot subscribe to the MPTCP path manager events" in warning and "CAP_NET_ADMIN" in warning
               for warning in result.get("warnings", [])), result.get("warnings")


def command_line(pid):
    try:
        with open("/proc/%d/cmdline" % pid) as handle:
            return handle.read().replace("\0", " ")[:200]
    except OSError:
        return None


def test_examples_as_a_playbook_with_async_server(pair):
    """The module's EXAMPLES, as written, with the server task in the background (async,
    poll 0) and async_status, on two inventory hosts living in the two namespaces."""
    from ansible_collections.mptcp.linux.plugins.modules import mptcp_transfer

    pair.shape()
    examples = mptcp_transfer.EXAMPLES
    for old, new in (("server.example.com", "server"), ("198.18.1.10", SERVER_ADDRESS), ("eth1", "c1"),
                     ("64MiB", "16MiB")):
        assert old in examples
        examples = examples.replace(old, new)
    with tempfile.TemporaryDirectory() as directory:
        inventory = {"all": {"hosts": {
            "server": {"ansible_connection": "local", "ansible_python_interpreter": pair.server.interpreter(directory)},
            "client": {"ansible_connection": "local", "ansible_python_interpreter": pair.client.interpreter(directory)},
        }}}
        play = [{"hosts": "client", "gather_facts": False, "tasks": yaml.safe_load(examples) + [
            {"ansible.builtin.debug": {"msg": "{{ mptcp_client.mbit_per_s }} Mbit/s, failover "
                                              "{{ mptcp_client.failover.seconds_after_failure }} s"}}]}]
        for name, content in (("inventory.yml", inventory), ("play.yml", play)):
            with open(os.path.join(directory, name), "w") as handle:
                yaml.safe_dump(content, handle)
        env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", LC_ALL="C.UTF-8",
                   ANSIBLE_ASYNC_DIR=os.path.join(directory, "async"))
        result = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                                 os.path.join(directory, "inventory.yml"), os.path.join(directory, "play.yml")],
                                capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "client                     : ok=5 " in result.stdout, result.stdout
    # The server's async_wrapper checks on its job every few seconds, then exits too.
    deadline = time.monotonic() + 15
    while pair.server.pids() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [command_line(pid) for pid in pair.server.pids()] == []
    assert "UP" in links(pair.client)["c1"]["flags"]
    print(textwrap.indent(result.stdout[-600:], "  "))
