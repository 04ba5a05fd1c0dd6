"""Taking a link down and putting it back, against `ip -j address show` and `ip route
save` output recorded on Linux 6.18 / iproute2 6.1 (fixtures/mptcp_transfer/record.py):
a veth link with an IPv4 address, two static IPv6 addresses and two static routes."""

import json
import socket
import struct

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.transfer import link_failover
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.netlink import parse_attrs, parse_messages
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.link_failover import (
    LinkFailure,
    persistent_addresses,
    routes_to_restore,
    validate_interface,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import RECORDED

SHOW = RECORDED["ip_address_show"]
SAVE = bytes.fromhex(RECORDED["ip_route_save"])
ADDRESSES = [
    ("inet", "198.18.101.2", 24, ()),
    ("inet6", "2001:db8:101::5", 64, ("nodad", "noprefixroute")),
    ("inet6", "2001:db8:101::2", 64, ("nodad",)),
]


def test_persistent_addresses():
    assert persistent_addresses(SHOW) == ADDRESSES


def test_temporary_and_link_local_left_out():
    shown = json.dumps([{"addr_info": [
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"},
        {"family": "inet6", "local": "2001:db8::9", "prefixlen": 64, "scope": "global", "dynamic": True,
         "valid_life_time": 86400},
        {"family": "inet", "local": "192.0.2.9", "prefixlen": 24, "scope": "global", "valid_life_time": 3600},
    ]}])
    assert persistent_addresses(shown) == []
    assert persistent_addresses("") == []


def destination(payload):
    """RTA_DST of an RTM_NEWROUTE payload (struct rtmsg, then attributes), as text."""
    family, dst_len = struct.unpack_from("=BB", payload, 0)
    for kind, value in parse_attrs(payload, 12):
        if kind == 1:
            return "%s/%d" % (socket.inet_ntop(family, value), dst_len)
    return None


def test_only_the_routes_someone_added():
    # The dump also holds the kernel's own: connected prefixes, fe80::/64, the local table.
    assert len(parse_messages(SAVE[4:])) >= 8
    kept = routes_to_restore(SAVE)
    assert [kind for kind, _payload in kept] == [24, 24]  # RTM_NEWROUTE
    assert sorted(destination(payload) for _kind, payload in kept) == ["198.18.200.0/24", "2001:db8:200::/64"]


def test_not_a_route_dump():
    with pytest.raises(MptcpError, match="no route dump"):
        routes_to_restore(b"RTNETLINK answers: Operation not permitted\n")


class FakeIp:
    """`ip` as the recording saw it; after `link set down` the IPv6 addresses are gone, and
    `link set up` does not bring them back (the kernel's behaviour)."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.lost = False
        self.fail_on = fail_on

    def __call__(self, argv):
        self.calls.append(argv)
        if self.fail_on and self.fail_on == argv[1:len(self.fail_on) + 1]:
            return 2, b"", b"RTNETLINK answers: Operation not permitted\n"
        if argv[1:4] == ["-j", "address", "show"]:
            if self.lost:
                shown = json.loads(SHOW)
                shown[0]["addr_info"] = [info for info in shown[0]["addr_info"] if info["family"] == "inet"]
                return 0, json.dumps(shown).encode(), b""
            return 0, SHOW.encode(), b""
        if argv[1:3] == ["route", "save"]:
            return 0, SAVE, b""
        if argv[1:3] == ["link", "set"] and argv[-1] == "down":
            self.lost = True
        return 0, b"", b""


@pytest.fixture
def routes_added(monkeypatch):
    added = []

    def add_routes(messages):
        added.extend(messages)
        return len(messages), 0, []
    monkeypatch.setattr(link_failover, "add_routes", add_routes)
    return added


def test_fail_and_restore(routes_added):
    ip = FakeIp()
    failure = LinkFailure(ip, "c1", sleep=lambda seconds: None)
    assert failure.restore() == {"interface": "c1"}  # never failed: nothing to do
    failure.fail()
    assert ip.calls[-1] == ["ip", "link", "set", "dev", "c1", "down"]
    assert failure.failed and "198.18.101.2" in failure.local_addresses
    report = failure.restore()
    assert ip.calls[3] == ["ip", "link", "set", "dev", "c1", "up"]
    assert ["ip", "-6", "address", "add", "2001:db8:101::5/64", "dev", "c1", "nodad", "noprefixroute"] in ip.calls
    assert ["ip", "-6", "address", "add", "2001:db8:101::2/64", "dev", "c1", "nodad"] in ip.calls
    assert report["addresses_readded"] == ["2001:db8:101::5/64", "2001:db8:101::2/64"]
    assert report["routes_restored"] == 2 and len(routes_added) == 2
    assert report["restored"] is True
    calls = len(ip.calls)
    failure.restore()
    assert len(ip.calls) == calls  # restored once only


def test_link_that_will_not_come_up(routes_added):
    ip = FakeIp(fail_on=["link", "set", "dev", "c1", "up"])
    failure = LinkFailure(ip, "c1", sleep=lambda seconds: None)
    failure.fail()
    with pytest.raises(MptcpError, match="ip link set dev c1 up failed .rc=2.: RTNETLINK answers"):
        failure.restore()
    assert failure.failed  # a later restore() tries again
    ip.fail_on = None
    report = failure.restore()
    assert ip.calls.count(["ip", "link", "set", "dev", "c1", "up"]) == 2
    assert report["restored"] is True
    assert report["addresses_readded"] == ["2001:db8:101::5/64", "2001:db8:101::2/64"]


class FakeClock:
    """time.time and time.sleep without waiting."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_routes_refused(monkeypatch):
    tries = []

    def add_routes(messages):
        tries.append(messages)
        return 0, 1, ["Network is unreachable"]
    monkeypatch.setattr(link_failover, "add_routes", add_routes)
    clock = FakeClock()
    failure = LinkFailure(FakeIp(), "c1", clock=clock, sleep=clock.sleep)
    failure.fail()
    with pytest.raises(MptcpError, match="1 route.s. of c1 could not be added back: Network is unreachable"):
        failure.restore()
    assert failure.report["addresses_readded"] == ["2001:db8:101::5/64", "2001:db8:101::2/64"]
    assert (failure.report["routes_restored"], "restored" in failure.report) == (0, False)
    # Tried again every 0.1 s (NetworkManager may be adding things back meanwhile) until the
    # 5 s restore() waits by default were up.
    assert len(tries) == 51 and clock.now >= 1005.0


def test_validate_interface(tmp_path):
    (tmp_path / "eth1").mkdir()
    validate_interface("eth1", str(tmp_path))
    for name, words in (("eth9", "does not exist"), ("lo", "cannot be failed"), ("a" * 16, "not a valid"),
                        ("eth 1", "not a valid"), ("../x", "not a valid"), (3, "not a valid")):
        with pytest.raises(ValidationError, match=words):
            validate_interface(name, str(tmp_path))
