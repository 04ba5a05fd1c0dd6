"""mptcp-rejoin's reading of rtnetlink and its choice of what to add again
(plugins/module_utils/rejoin/daemon.py), on datagrams recorded from Linux 6.18 in a
network namespace (fixtures/rejoin/record.py wrote fixtures/rejoin/rtnetlink.json)."""

import binascii
import json
import os
import socket
import struct

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.rejoin import daemon
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin.daemon import AddressEvent, LinkEvent, Watcher

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "rejoin")
with open(os.path.join(FIXTURES, "rtnetlink.json")) as _handle:
    RECORDED = [(label, binascii.unhexlify(data)) for label, data in json.load(_handle)]


def recorded_events(label=None):
    return [event for name, data in RECORDED if label in (None, name) for event in daemon.parse_events(data)]


def described(events):
    return [("addr", e.added, e.address, e.index, e.usable) if isinstance(e, AddressEvent)
            else ("link", e.name, e.index, e.carrying) for e in events]


def test_recorded_datagrams_give_the_events_the_kernel_sent():
    assert described(recorded_events()) == [
        ("link", "rec0p", 2, False), ("link", "rec0", 3, False),            # veth created
        ("link", "rec0p", 2, False), ("link", "rec0", 3, False),            # up, peer not yet
        ("link", "rec0", 3, True), ("link", "rec0p", 2, True),              # both carrying
        ("addr", True, "198.18.192.1", 3, True),
        ("addr", False, "198.18.192.1", 3, True),
        ("addr", True, "fe80::4058:aeff:fe7d:3384", 2, True),
        ("addr", True, "2001:db8:192::1", 3, False),                        # tentative: in DAD
        ("addr", True, "fe80::c04d:d5ff:fec0:772", 3, True),
        ("addr", True, "2001:db8:192::1", 3, True),                         # DAD done
        ("link", "rec0", 3, False),                                         # ip link set down
        ("addr", False, "2001:db8:192::1", 3, True),                        # IPv6 goes with the link
        ("addr", False, "fe80::c04d:d5ff:fec0:772", 3, True),
        ("link", "rec0p", 2, False),
    ]


def _nlmsg(kind, payload):
    return struct.pack("=IHHII", 16 + len(payload), kind, 0, 0, 0) + payload


def _attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((-length) % 4)


def test_a_point_to_point_address_is_its_local_one_not_the_peer():
    payload = (struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, 7)
               + _attr(daemon.IFA_ADDRESS, socket.inet_aton("198.18.9.2"))
               + _attr(daemon.IFA_LOCAL, socket.inet_aton("198.18.9.1")))
    assert described(daemon.parse_events(_nlmsg(daemon.RTM_NEWADDR, payload))) == [("addr", True, "198.18.9.1", 7, True)]


def test_attributes_after_one_of_odd_length_are_read_at_their_padded_offset():
    # IFA_LABEL "c2" is 3 bytes: the next attribute starts 4-byte aligned, after padding.
    payload = (struct.pack("=BBBBI", socket.AF_INET6, 64, 0, 0, 3)
               + _attr(3, b"c2\0")
               + _attr(daemon.IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, "2001:db8::1"))
               + _attr(daemon.IFA_FLAGS, struct.pack("=I", daemon.IFA_F_TENTATIVE)))
    assert described(daemon.parse_events(_nlmsg(daemon.RTM_NEWADDR, payload))) == [("addr", True, "2001:db8::1", 3, False)]


def test_ifa_flags_attribute_counts_over_the_header_byte():
    # The 8-bit ifa_flags says nothing; IFA_FLAGS (32 bits) says tentative.
    payload = (struct.pack("=BBBBI", socket.AF_INET6, 64, 0, 0, 3)
               + _attr(daemon.IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, "2001:db8::1"))
               + _attr(daemon.IFA_FLAGS, struct.pack("=I", daemon.IFA_F_TENTATIVE)))
    assert described(daemon.parse_events(_nlmsg(daemon.RTM_NEWADDR, payload))) == [("addr", True, "2001:db8::1", 3, False)]


@pytest.mark.parametrize("cut", [1, 8, 20, 40])
def test_a_truncated_datagram_gives_what_is_whole_and_no_error(cut):
    _label, data = RECORDED[6]  # ipv4 added: one message
    events = daemon.parse_events(data[:len(data) - cut])
    assert events == [] or described(events) == [("addr", True, "198.18.192.1", 3, True)]
    # Two messages, the second cut: the first is still read.
    both = daemon.parse_events(data + data[:len(data) - cut])
    assert described(both)[0] == ("addr", True, "198.18.192.1", 3, True)


def test_messages_of_other_kinds_and_families_are_left_out():
    route = _nlmsg(24, b"\0" * 12)  # RTM_NEWROUTE
    bridge = _nlmsg(daemon.RTM_NEWADDR, struct.pack("=BBBBI", socket.AF_PACKET, 0, 0, 0, 3))
    assert daemon.parse_events(route + bridge) == []


# --- the watcher --------------------------------------------------------------------

ENDPOINT = dict(address="198.18.192.1", dev="rec0", id=5, flags=["subflow"])
INDEXES = {"rec0": 3, "rec0p": 2}


def watcher(*endpoints):
    return Watcher(list(endpoints) or [ENDPOINT], 0.5, INDEXES.get)


def feed(w, label, now):
    for event in recorded_events(label):
        w.feed(event, now)


def test_an_address_removed_and_given_back_is_added_again_once_it_settled():
    w = watcher()
    feed(w, "ipv4 deleted", 10.0)
    assert w.due(11.0) == []
    feed(w, "ipv4 added", 20.0)
    assert w.next_timeout(20.0) == 0.5
    assert w.due(20.4) == []
    assert w.due(20.5) == [ENDPOINT]
    assert w.due(30.0) == []  # once per return


def test_an_address_missing_when_the_daemon_starts_counts_as_gone():
    w = watcher()
    w.start(recorded_events("ipv4 added") + recorded_events("ipv4 deleted"), 5.0)  # the dump, then a removal
    feed(w, "ipv4 added", 20.0)
    assert w.due(21.0) == [ENDPOINT]


def test_an_address_there_when_the_daemon_starts_is_left_alone_and_a_link_down_counts():
    w = watcher()
    w.start(recorded_events("ipv4 added") + [LinkEvent("rec0", 3, True)], 5.0)
    feed(w, "ipv4 added", 20.0)
    assert w.due(21.0) == []
    w.start(recorded_events("ipv4 added") + [LinkEvent("rec0", 3, False)], 30.0)
    w.feed(LinkEvent("rec0", 3, True), 31.0)
    assert w.due(32.0) == [ENDPOINT]


def test_an_address_that_never_went_is_left_alone():
    w = watcher()
    feed(w, "ipv4 added", 20.0)
    assert w.due(30.0) == [] and w.next_timeout(30.0) is None


def test_an_address_removed_while_due_is_not_added():
    w = watcher()
    feed(w, "ipv4 deleted", 10.0)
    feed(w, "ipv4 added", 20.0)
    feed(w, "ipv4 deleted", 20.2)
    assert w.due(21.0) == []


def test_an_address_back_on_another_interface_is_not_its_endpoint():
    w = watcher()
    feed(w, "ipv4 deleted", 10.0)
    w.feed(AddressEvent(True, "198.18.192.1", 2, True), 20.0)
    assert w.due(30.0) == []


def test_an_endpoint_without_dev_comes_back_on_any_interface():
    endpoint = dict(address="198.18.192.1", id=5, flags=["signal"])
    w = watcher(endpoint)
    feed(w, "ipv4 deleted", 10.0)
    w.feed(AddressEvent(True, "198.18.192.1", 2, True), 20.0)
    assert w.due(30.0) == [endpoint]


def test_an_ipv6_address_that_went_with_its_link_waits_for_its_address_after_dad():
    endpoint = dict(address="2001:DB8:192:0::1", dev="rec0", flags=["subflow", "fullmesh"])
    w = watcher(endpoint)
    feed(w, "link down", 10.0)  # its address went with the link
    w.feed(LinkEvent("rec0", 3, True), 20.0)
    w.feed(AddressEvent(True, "2001:db8:192::1", 3, False), 20.0)  # given back, tentative
    assert w.due(25.0) == []
    w.feed(AddressEvent(True, "2001:db8:192::1", 3, True), 26.0)
    assert [e["address"] for e in w.due(26.5)] == ["2001:db8:192::1"]


def test_an_address_given_back_while_its_link_is_down_waits_for_the_link():
    w = watcher()
    feed(w, "ipv4 deleted", 10.0)
    w.feed(LinkEvent("rec0", 3, False), 11.0)
    feed(w, "ipv4 added", 12.0)
    assert w.due(20.0) == []
    w.feed(LinkEvent("rec0", 3, True), 21.0)
    assert w.due(21.5) == [ENDPOINT]


def test_a_tentative_address_is_not_a_return():
    endpoint = dict(address="2001:db8:192::1", dev="rec0", flags=["subflow"])
    w = watcher(endpoint)
    w.feed(AddressEvent(False, "2001:db8:192::1", 3, True), 10.0)
    w.feed(AddressEvent(True, "2001:db8:192::1", 3, False), 20.0)
    assert w.due(30.0) == []
    w.feed(AddressEvent(True, "2001:db8:192::1", 3, True), 31.0)
    assert len(w.due(31.5)) == 1


def test_a_link_down_and_up_adds_its_endpoints_again_and_no_other():
    other = dict(address="198.18.191.1", dev="rec0p", id=4, flags=["subflow"])
    w = watcher(ENDPOINT, other)
    feed(w, "link down", 10.0)  # rec0 and rec0p went down
    w.feed(LinkEvent("rec0", 3, True), 20.0)
    assert w.due(21.0) == [w.endpoints[0]]


def test_link_events_that_change_nothing_are_no_return():
    w = watcher()
    for now in (1.0, 2.0, 3.0):
        w.feed(LinkEvent("rec0", 3, True), now)  # mtu, stats, a peer's change: still carrying
    assert w.due(10.0) == []


# --- iproute2 --------------------------------------------------------------------------

class FakeIp:
    def __init__(self, endpoints, fail=()):
        self.endpoints = endpoints
        self.fail = fail
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[1:] == ["mptcp", "endpoint", "show"]:
            return 0, "".join("%s id %d %s\n" % (e["address"], e["id"], e["rest"]) for e in self.endpoints), ""
        if argv[3] in self.fail:
            return 2, "", "Error: it failed."
        return 0, "", ""


def test_rejoin_deletes_the_endpoint_of_that_address_whatever_its_id_and_adds_it_as_listed():
    ip = FakeIp([{"address": "198.18.191.1", "id": 1, "rest": "subflow"},
                 {"address": "198.18.192.1", "id": 9, "rest": "subflow dev rec0 "}])
    endpoint = dict(address="198.18.192.1", dev="rec0", id=5, port=None, flags=["subflow", "backup"])
    assert daemon.rejoin("/usr/sbin/ip", endpoint, run=ip) == []
    assert ip.calls[1:] == [["/usr/sbin/ip", "mptcp", "endpoint", "delete", "id", "9"],
                            ["/usr/sbin/ip", "mptcp", "endpoint", "add", "198.18.192.1", "dev", "rec0", "id", "5",
                             "subflow", "backup"]]


def test_rejoin_of_a_missing_endpoint_only_adds_it_and_says_what_failed():
    ip = FakeIp([], fail=("add",))
    endpoint = dict(address="2001:db8::1", port=8080, flags=["signal"])
    assert daemon.rejoin("ip", endpoint, run=ip) == ["ip mptcp endpoint add 2001:db8::1 port 8080 signal: Error: it failed."]
    assert [argv[3] for argv in ip.calls] == ["show", "add"]


@pytest.mark.parametrize("text, expected", [
    # iproute2 6.1 (Debian 12) and 6.15 (Debian 13): a trailing space after dev.
    ("198.19.20.10 id 1 subflow dev eth0 \n198.19.21.10 id 77 signal dev eth1 \n",
     [("198.19.20.10", 1), ("198.19.21.10", 77)]),
    # 5.9 (Debian 11), whose -j output is not JSON; a port before the id; IPv6 spelled long.
    ("127.0.0.2 id 5 subflow \n2001:DB8:0::1 port 8080 id 3 signal \n", [("127.0.0.2", 5), ("2001:db8::1", 3)]),
    ("", []),
    ("garbage\nnot-an-address id 4 subflow\n", []),
])
def test_endpoint_ids_reads_the_text_of_every_iproute2_seen(text, expected):
    assert daemon.endpoint_ids(text) == expected
