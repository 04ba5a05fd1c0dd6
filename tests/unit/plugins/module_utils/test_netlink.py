"""Netlink framing against datagrams recorded on Linux 6.18 (fixtures/mptcp_transfer)."""

import struct

from ansible_collections.mptcp.linux.plugins.module_utils.netlink import (
    NLMSG_HDR,
    align,
    message,
    netlink_error,
    pack_attr,
    parse_attrs,
    parse_messages,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import RECORDED


def test_recorded_request_round_trip():
    data = bytes.fromhex(RECORDED["client"]["getfamily_request"])
    [(kind, flags, seq, payload)] = parse_messages(data)
    assert (kind, flags, seq) == (0x10, 0x5, 7)
    assert message(kind, flags, seq, payload) == data
    assert parse_attrs(payload, 4) == [(2, b"mptcp_pm\0")]


def test_several_messages_in_one_datagram():
    data = message(2, 0, 1, struct.pack("=i", 0)) + message(2, 0, 2, struct.pack("=i", -17))
    assert [(seq, netlink_error(payload)) for _kind, _flags, seq, payload in parse_messages(data)] == [(1, 0), (2, -17)]


def test_padding_and_flag_bits():
    attr = pack_attr(0x8000 | 7, b"abcde")  # NLA_F_NESTED set
    assert len(attr) == align(4 + 5) == 12
    assert parse_attrs(attr + pack_attr(1, b"")) == [(7, b"abcde"), (1, b"")]


def test_truncated():
    data = bytes.fromhex(RECORDED["client"]["getfamily_reply"])
    assert parse_messages(data[:NLMSG_HDR.size - 1]) == []
    assert parse_messages(data[:-1]) == []
    assert parse_attrs(b"\x08\x00\x01\x00ab") == []
