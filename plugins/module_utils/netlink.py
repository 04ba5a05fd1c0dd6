# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink framing with the standard library alone: messages (struct nlmsghdr) and their
attributes (struct nlattr), as include/uapi/linux/netlink.h lays them out, for the
generic netlink events (transfer/pm_events.py) and the routes put back after a failover
(transfer/link_failover.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

# Socket protocols and options (include/uapi/linux/netlink.h), for socket.socket(AF_NETLINK,
# SOCK_RAW, protocol) and setsockopt.
NETLINK_ROUTE = 0
NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1

NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
GENL_HDR = struct.Struct("=BBH")  # cmd, version, reserved
NLA_HDR = struct.Struct("=HH")  # len, type
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER


def align(length):
    """Netlink pads messages and attributes to 4 bytes."""
    return (length + 3) & ~3


def parse_attrs(data, offset=0):
    """Netlink attributes in data[offset:] -> [(type without the NESTED and BYTEORDER
    bits, payload bytes)]. Stops at a truncated attribute."""
    attrs = []
    while offset + NLA_HDR.size <= len(data):
        length, kind = NLA_HDR.unpack_from(data, offset)
        if length < NLA_HDR.size or offset + length > len(data):
            break
        attrs.append((kind & NLA_TYPE_MASK, bytes(data[offset + NLA_HDR.size:offset + length])))
        offset += align(length)
    return attrs


def pack_attr(kind, payload):
    length = NLA_HDR.size + len(payload)
    return NLA_HDR.pack(length, kind) + payload + b"\0" * (align(length) - length)


def message(kind, flags, seq, payload):
    """A netlink message: the header, then `payload`."""
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(payload), kind, flags, seq, 0) + payload


def parse_messages(data):
    """One datagram from a netlink socket -> [(type, flags, seq, payload)]."""
    messages = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, flags, seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > len(data):
            break
        messages.append((kind, flags, seq, bytes(data[offset + NLMSG_HDR.size:offset + length])))
        offset += align(length)
    return messages


def netlink_error(payload):
    """The (negative) error code of an NLMSG_ERROR payload; 0 is an ACK."""
    return struct.unpack("=i", payload[:4])[0]
