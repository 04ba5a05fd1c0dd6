"""The path manager's events and the generic netlink controller's answers, parsed from
datagrams recorded on Linux 6.18 (fixtures/mptcp_transfer/record.py): a connection with a
second subflow to the address the server signals, which the server then removes."""

import errno
import os
import socket
import struct

import pytest
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
from pyroute2.netlink.generic import CTRL_CMD_GETFAMILY, GENL_ID_CTRL, ctrlmsg

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.netlink import (
    netlink_error,
    pack_attr,
    parse_attrs,
    parse_messages,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import (
    EventListener,
    build_getfamily,
    events_of,
    monitor_line,
    parse_event,
    parse_family,
    resolve_family,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import RECORDED

FAMILY = 28  # what the controller gave mptcp_pm on the recording machine

# What the recording saw (checked against `ip mptcp monitor` of iproute2 6.1, which
# prints the same words with a narrower name column, "flags=2" for server_side and
# "UNKNOWN 15/16" for the listener events: tests/kernel/test_recordings_live.py compares
# the two on live events).
CLIENT_LINES = [
    "[         CREATED] token=95765602 remid=0 locid=0 saddr4=198.18.101.2 daddr4=198.18.101.1 sport=47982 dport=5000",
    "[     ESTABLISHED] token=95765602 remid=0 locid=0 saddr4=198.18.101.2 daddr4=198.18.101.1 sport=47982 dport=5000",
    "[       ANNOUNCED] token=95765602 remid=1 daddr4=198.18.102.1 dport=5000",
    "[  SF_ESTABLISHED] token=95765602 remid=1 locid=1 saddr4=198.18.102.2 daddr4=198.18.102.1 sport=51537 "
    "dport=5000 backup=0",
    "[         REMOVED] token=95765602 remid=1",
    "[       SF_CLOSED] token=95765602 remid=1 locid=1 saddr4=198.18.102.2 daddr4=198.18.102.1 sport=51537 "
    "dport=5000 backup=0",
    "[          CLOSED] token=95765602",
]
SERVER_TYPES = ["listener_created", "created", "established", "sf_established", "sf_closed", "closed",
                "listener_closed"]


def events(side):
    found = []
    for datagram in RECORDED[side]["events"]:
        for kind, _flags, _seq, payload in parse_messages(bytes.fromhex(datagram)):
            assert kind == FAMILY
            found.append(parse_event(payload))
    return found


def pyroute2_decoded(data):
    """The kernel's recorded answer as pyroute2's ctrlmsg decodes it: (type, seq, family id,
    {group name: id})."""
    msg = ctrlmsg(data)
    msg.decode()
    groups = dict((group.get_attr("CTRL_ATTR_MCAST_GRP_NAME"), group.get_attr("CTRL_ATTR_MCAST_GRP_ID"))
                  for group in msg.get_attr("CTRL_ATTR_MCAST_GROUPS"))
    return msg["header"]["type"], msg["header"]["sequence_number"], msg.get_attr("CTRL_ATTR_FAMILY_ID"), groups


def test_family_reply_reads_as_pyroute2_reads_it():
    data = bytes.fromhex(RECORDED["client"]["getfamily_reply"])
    messages = parse_messages(data)
    assert len(messages) == 1
    kind, _flags, seq, payload = messages[0]
    family, groups = parse_family(payload)
    assert (kind, seq, family, groups) == pyroute2_decoded(data)
    assert set(groups) == {"mptcp_pm_cmds", "mptcp_pm_events"}


def pyroute2_getfamily(name, seq):
    """CTRL_CMD_GETFAMILY as pyroute2's own encoder lays it out (GenericNetlinkSocket's
    discovery, with an ACK asked for as the collection does)."""
    msg = ctrlmsg()
    msg["cmd"] = CTRL_CMD_GETFAMILY
    msg["version"] = 1
    msg["attrs"].append(["CTRL_ATTR_FAMILY_NAME", name])
    msg["header"]["type"] = GENL_ID_CTRL
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


# Names whose attribute needs 3, 1, 0 and 2 bytes of padding after the NUL.
@pytest.mark.parametrize("name, seq", [("mptcp_pm", 7), ("nlctrl", 1), ("abc", 0x7FFFFFFF), ("ab_cd", 8)])
def test_request_is_the_bytes_pyroute2_encodes(name, seq):
    assert build_getfamily(name, seq) == pyroute2_getfamily(name, seq)


def test_ack_and_enoent():
    ack = parse_messages(bytes.fromhex(RECORDED["client"]["getfamily_ack"]))[0]
    assert ack[0] == 2 and netlink_error(ack[3]) == 0
    missing = parse_messages(bytes.fromhex(RECORDED["client"]["getfamily_enoent"]))[0]
    assert missing[0] == 2 and netlink_error(missing[3]) == -errno.ENOENT


def test_client_events():
    found = events("client")
    assert [event["line"] for event in found] == CLIENT_LINES
    created, _established, announced, joined, removed, closed_subflow, closed = found
    assert created == {
        "type": "created", "token": "95765602", "remid": 0, "locid": 0, "saddr": "198.18.101.2",
        "daddr": "198.18.101.1", "sport": 47982, "dport": 5000, "line": CLIENT_LINES[0]}
    assert announced["daddr"] == "198.18.102.1" and announced["remid"] == 1
    assert joined["type"] == "sf_established" and joined["backup"] == 0
    assert removed == {"type": "removed", "token": "95765602", "remid": 1, "line": CLIENT_LINES[4]}
    assert closed_subflow["saddr"] == "198.18.102.2"
    assert closed == {"type": "closed", "token": "95765602", "line": CLIENT_LINES[6]}


def test_server_events():
    found = events("server")
    assert [event["type"] for event in found] == SERVER_TYPES
    # 6.18 says server_side in the flags only (bit 1), no longer as an attribute.
    assert found[1]["server_side"] is True and "flags" not in found[1]
    assert found[1]["line"].endswith("sport=5000 dport=47982 server_side")
    assert found[0] == {"type": "listener_created", "saddr": "0.0.0.0", "sport": 5000,
                        "line": "[LISTENER_CREATED] saddr4=0.0.0.0 sport=5000"}
    assert len(events_of(found, [found[1]["token"]])) == 5


def test_events_of_other_connections_left_out():
    found = events("client") + events("server")
    assert [event["type"] for event in events_of(found, ["95765602"])] == [
        "created", "established", "announced", "sf_established", "removed", "sf_closed", "closed"]
    assert events_of(found, []) == []


def event_payload(cmd, *attrs):
    return struct.pack("=BBH", cmd, 1, 0) + b"".join(pack_attr(kind, value) for kind, value in attrs)


def test_ipv6_error_flags_and_unknown_event():
    payload = event_payload(
        11,
        (1, struct.pack("=I", 0xABCDEF01)),
        (6, socket.inet_pton(socket.AF_INET6, "2001:db8::1")),
        (8, socket.inet_pton(socket.AF_INET6, "2001:db8::2")),
        (9, struct.pack(">H", 443)),
        (12, struct.pack("=B", 110)),
        (13, struct.pack("=H", 0x1 | 0x8)),
        (15, struct.pack("=i", 3)),
        (17, struct.pack("=I", 0x10)),
        (99, b"ignored"))
    event = parse_event(payload)
    assert event["line"] == ("[       SF_CLOSED] token=abcdef01 saddr6=2001:db8::1 daddr6=2001:db8::2 sport=443 "
                             "error=110 ifindex=3 reset_flags=0x10 deny_join_id0 flags=0x8")
    assert event["deny_join_id0"] is True and event["flags"] == 8
    assert parse_event(event_payload(42))["type"] == "unknown(42)"


def test_truncated_input_stops_cleanly():
    data = bytes.fromhex(RECORDED["client"]["events"][0])
    assert parse_messages(data[:-4]) == []
    assert parse_attrs(pack_attr(1, b"abcd")[:-2]) == []
    assert monitor_line("CLOSED", {}) == "[          CLOSED]"


class FakeController:
    """One end of a datagram socket pair acting as the generic netlink controller: it
    answers each request with the recorded datagrams."""

    def __init__(self, answers):
        self.ours, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.answers = answers

    def send(self, data):
        self.ours.send(data)
        for answer in self.answers:
            self.kernel.send(bytes.fromhex(answer))

    def __getattr__(self, name):
        return getattr(self.ours, name)

    def close(self):
        self.ours.close()
        self.kernel.close()


def test_resolve_family_over_a_socket():
    controller = FakeController([RECORDED["client"]["getfamily_reply"], RECORDED["client"]["getfamily_ack"]])
    try:
        assert resolve_family(controller, "mptcp_pm", seq=7) == (FAMILY, {"mptcp_pm_cmds": 8, "mptcp_pm_events": 9})
    finally:
        controller.close()


def test_resolve_missing_family():
    controller = FakeController([RECORDED["client"]["getfamily_enoent"]])
    try:
        with pytest.raises(MptcpError, match="no generic netlink family 'no_such_family'"):
            resolve_family(controller, "no_such_family", seq=8)
    finally:
        controller.close()


def test_resolve_without_answer():
    controller = FakeController([])
    try:
        with pytest.raises(MptcpError, match="did not answer"):
            resolve_family(controller, "mptcp_pm", timeout=0.2, seq=9)
    finally:
        controller.close()


def test_listener_refused_is_a_warning(monkeypatch):
    def refuse(*args):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))
    monkeypatch.setattr(socket, "socket", refuse)
    listener = EventListener()
    assert listener.start() is False
    assert "no MPTCP events" in listener.warning
    assert listener.stop() == []
