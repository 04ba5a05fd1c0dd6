"""The transfer's inputs, data and both sides over loopback in plain TCP (MPTCP itself,
subflows, events and failover on real links are in tests/kernel/test_mptcp_transfer.py)."""

import hashlib
import json
import socket
import threading
import time

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.client import run_client
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.options import parse_size, validate
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.server import run_server
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.stream import CHUNK, payload

CLIENT = {"role": "client", "address": "127.0.0.1", "port": 5210}


def test_server_defaults():
    assert validate({"role": "server", "port": 5210}) == {
        "role": "server", "protocol": "mptcp", "port": 5210, "timeout": 60, "events": True,
        "address": "0.0.0.0", "connections": 1}


def test_client_defaults():
    spec = validate(dict(CLIENT, address="server.example.com"))
    assert spec["address"] == "server.example.com"
    assert (spec["size"], spec["seed"], spec["bind_address"], spec["fail_interface"]) == (16 << 20, 0, None, None)


@pytest.mark.parametrize("value, size", [
    (1, 1), ("1", 1), ("64M", 64 << 20), ("64MiB", 64 << 20), ("64 mb", 64 << 20), ("1G", 1 << 30),
    ("512k", 512 << 10), ("2KiB", 2048),
])
def test_sizes(value, size):
    assert parse_size(value) == size


@pytest.mark.parametrize("params, words", [
    ({"role": "both", "port": 1}, "role 'both' is not one of"),
    ({"role": "server", "port": 0}, "port 0 is out of range"),
    ({"role": "server", "port": 70000}, "port 70000 is out of range"),
    ({"role": "server", "port": True}, "port True is out of range"),
    ({"role": "server", "port": 1, "protocol": "sctp"}, "protocol 'sctp' is not one of"),
    ({"role": "server", "port": 1, "timeout": 0}, "timeout 0 is out of range: an integer from 1 to 3600"),
    ({"role": "server", "port": 1, "timeout": 3601}, "timeout 3601 is out of range"),
    ({"role": "server", "port": 1, "connections": 65}, "connections 65 is out of range"),
    ({"role": "server", "port": 1, "address": "0.0.0.0/0"}, "address '0.0.0.0/0' is not an IPv4 or IPv6"),
    ({"role": "server", "port": 1, "size": 10}, "size: not for role=server"),
    ({"role": "client", "port": 1}, "address None is not a host name"),
    ({"role": "client", "port": 1, "address": "a b"}, "address 'a b' is not a host name"),
    (dict(CLIENT, connections=2), "connections: not for role=client"),
    ({"role": "probe", "port": 1, "address": "h", "size": 10, "connections": 2}, "size, connections: not for role=probe"),
    ({"role": "probe", "port": 1, "address": "h", "protocol": "tcp"}, "protocol 'tcp': a probe asks whether"),
    (dict(CLIENT, size=0), "size 0 is out of range"),
    (dict(CLIENT, size="2G"), "size '2G' is out of range: from 1 byte to 1073741824"),
    (dict(CLIENT, size="1T"), "size '1T' is not a byte count"),
    (dict(CLIENT, size=-5), "size -5 is out of range"),
    (dict(CLIENT, size=True), "size True is not a byte count"),
    (dict(CLIENT, seed=-1), "seed -1 is out of range"),
    (dict(CLIENT, bind_address="eth0"), "bind_address 'eth0' is not an IPv4 or IPv6"),
    (dict(CLIENT, fail_after_bytes=10), "fail_after_bytes needs fail_interface"),
    (dict(CLIENT, fail_after_fraction=0.5), "fail_after_fraction needs fail_interface"),
])
def test_bad_inputs(params, words):
    with pytest.raises(ValidationError) as caught:
        validate(params)
    assert words in str(caught.value)


@pytest.fixture
def links(tmp_path):
    (tmp_path / "eth1").mkdir()
    return str(tmp_path)


def test_failover_inputs(links):
    spec = validate(dict(CLIENT, size=1000, fail_interface="eth1"), sys_class_net=links)
    assert (spec["fail_interface"], spec["fail_after_bytes"]) == ("eth1", 300)
    spec = validate(dict(CLIENT, size=1000, fail_interface="eth1", fail_after_fraction=0.5), sys_class_net=links)
    assert spec["fail_after_bytes"] == 500
    spec = validate(dict(CLIENT, size=1000, fail_interface="eth1", fail_after_bytes=999), sys_class_net=links)
    assert spec["fail_after_bytes"] == 999


@pytest.mark.parametrize("params, words", [
    ({"fail_interface": "eth9"}, "fail_interface 'eth9' does not exist"),
    ({"fail_interface": "eth1", "fail_after_bytes": 1000}, "fail_after_bytes 1000 is out of range: an integer from 1 to 999"),
    ({"fail_interface": "eth1", "fail_after_bytes": 0}, "fail_after_bytes 0 is out of range"),
    ({"fail_interface": "eth1", "fail_after_fraction": 1.0}, "fail_after_fraction 1.0 is out of range"),
    ({"fail_interface": "eth1", "fail_after_fraction": 0}, "fail_after_fraction 0 is out of range"),
    ({"fail_interface": "eth1", "fail_after_fraction": 0.5, "fail_after_bytes": 5}, "mutually exclusive"),
    ({"fail_interface": "eth1", "size": 1}, "size 1 is too small to fail a link"),
])
def test_bad_failover_inputs(links, params, words):
    with pytest.raises(ValidationError) as caught:
        validate(dict(CLIENT, size=params.pop("size", 1000), **params), sys_class_net=links)
    assert words in str(caught.value)


def test_payload():
    blocks = list(payload(300000, 7))
    data = b"".join(blocks)
    assert len(data) == 300000
    assert all(len(block) == CHUNK for block in blocks[:-1])
    assert len(set(blocks[:-1])) == len(blocks) - 1  # no two chunks alike
    assert data == b"".join(payload(300000, 7))
    assert data != b"".join(payload(300000, 8))
    assert b"".join(payload(5, 7)) == data[:5]


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def serve(spec):
    """run_server in a thread -> a function returning (result, failure) when it is done."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(answer=run_server(spec)))
    thread.start()

    def wait():
        thread.join(spec["timeout"] + 5)
        return box["answer"]
    return wait


def test_loopback_tcp_transfer():
    port = free_port()
    wait = serve(validate({"role": "server", "address": "127.0.0.1", "port": port, "protocol": "tcp",
                           "timeout": 20, "events": False}))
    result, failure = run_client(validate(dict(CLIENT, port=port, protocol="tcp", size="3M", seed=5, timeout=20,
                                               events=False)))
    server, server_failure = wait()
    assert failure is None and server_failure is None
    digest = hashlib.sha256(b"".join(payload(3 << 20, 5))).hexdigest()
    assert result["checksum_matched"] and result["digest"] == digest and result["bytes"] == 3 << 20
    assert (result["mptcp"], result["fallback"], result["negotiated_by"]) == (False, False, "protocol")
    assert (result["subflows_max"], result["subflows_end"]) == (1, 1)
    assert result["mbit_per_s"] > 0 and result["seconds"] > 0
    assert result["server"]["protocol"] == "tcp" and result["server"]["digest"] == digest
    assert server["connections"] == [result["server"]]
    assert server["timed_out"] is False


def test_server_alone_stops_at_its_timeout():
    port = free_port()
    result, failure = serve(validate({"role": "server", "address": "127.0.0.1", "port": port, "protocol": "tcp",
                                      "timeout": 1, "events": False}))()
    assert failure == "served 0 of 1 connection(s) on 127.0.0.1 port %d within 1 s (no client came)" % port
    assert result["timed_out"] is True and result["connections"] == []
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))  # the port is free again
    sock.close()


def test_client_without_server_gives_up():
    result, failure = run_client(validate(dict(CLIENT, port=free_port(), protocol="tcp", timeout=1, events=False)))
    assert failure.startswith("cannot connect to 127.0.0.1 port")
    assert result["bytes"] == 0 and result["checksum_matched"] is False and result["subflows_max"] == 0


class SomethingElse:
    """A TCP server that is not mptcp_transfer: reads everything, answers HTTP."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.answer)
        self.thread.start()

    def answer(self):
        conn = self.listener.accept()[0]
        while conn.recv(65536):
            pass
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        conn.close()

    def close(self):
        self.thread.join(10)
        self.listener.close()


def test_client_against_something_else():
    other = SomethingElse()
    try:
        _result, failure = run_client(validate(dict(CLIENT, port=other.port, protocol="tcp", size=1000, timeout=10,
                                                    events=False)))
    finally:
        other.close()
    assert "the server's report is not JSON" in failure


def test_server_reports_a_client_that_stops_half_way():
    port = free_port()
    wait = serve(validate({"role": "server", "address": "127.0.0.1", "port": port, "protocol": "tcp",
                           "timeout": 2, "events": False}))
    for _attempt in range(50):  # until the server thread listens
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    sock.sendall(b"x" * 1000)
    result, failure = wait()
    sock.close()
    assert result["connections"][0]["bytes"] == 1000
    assert result["connections"][0]["error"] == "timed out before the client finished"
    assert failure.startswith("served 0 of 1 connection(s)") and "timed out before the client finished" in failure


class FakeIp:
    """`ip` for a failover on loopback: a link whose address is 127.0.0.1."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[1:3] == ["-j", "address"]:
            shown = [{"addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]}]
            return 0, json.dumps(shown).encode(), b""
        if argv[1:3] == ["route", "save"]:
            return 0, b"\x24\x12\x31\x45", b""
        return 0, b"", b""


def test_failover_at_the_exact_byte_and_link_always_restored():
    port = free_port()
    wait = serve(validate({"role": "server", "address": "127.0.0.1", "port": port, "protocol": "tcp",
                           "timeout": 20, "events": False}))
    spec = validate(dict(CLIENT, port=port, protocol="tcp", size=200000, timeout=20, events=False))
    spec.update(fail_interface="fake0", fail_after_bytes=70001)  # inside the second chunk
    ip = FakeIp()
    result, failure = run_client(spec, run=ip)
    wait()
    assert failure is None and result["checksum_matched"]
    failover = result["failover"]
    # What the module documents, nothing of the client's own run state.
    assert set(failover) == {"interface", "after_bytes", "at_seconds", "subflows_before", "initial_subflow",
                             "completed", "seconds_after_failure", "subflows_min_after", "restored", "gap_ms", "gap_after_bytes",
                             "addresses_readded", "routes_restored"}
    assert failover["after_bytes"] == 70001
    assert failover["initial_subflow"] is True and failover["completed"] is True
    assert failover["restored"] is True and failover["addresses_readded"] == []
    assert ["ip", "link", "set", "dev", "fake0", "down"] in ip.calls
    assert ip.calls[-2:] == [["ip", "link", "set", "dev", "fake0", "up"], ["ip", "-j", "address", "show", "dev", "fake0"]]


def test_link_restored_when_the_transfer_fails():
    other = SomethingElse()
    spec = validate(dict(CLIENT, port=other.port, protocol="tcp", size=100000, timeout=10, events=False))
    spec.update(fail_interface="fake0", fail_after_bytes=1)
    ip = FakeIp()
    try:
        result, failure = run_client(spec, run=ip)
    finally:
        other.close()
    assert "the server's report is not JSON" in failure
    assert result["failover"]["completed"] is False and result["failover"]["restored"] is True
    assert ["ip", "link", "set", "dev", "fake0", "up"] in ip.calls


def test_link_not_touched_when_never_connected():
    spec = validate(dict(CLIENT, port=free_port(), protocol="tcp", size=1000, timeout=1, events=False))
    spec.update(fail_interface="fake0", fail_after_bytes=1)
    ip = FakeIp()
    result, failure = run_client(spec, run=ip)
    assert failure.startswith("cannot connect") and result["failover"] is None
    assert ip.calls == []
