# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which interface holds a local address: the kernel's address dump over rtnetlink
(RTM_GETADDR, what `ip address show` reads), standard library only, so that a subflow's
local address can be named by its link on either side of a transfer."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.mptcp.linux.plugins.module_utils.netlink import (
    NETLINK_ROUTE,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLM_F_REQUEST,
    message,
    parse_attrs,
    parse_messages,
)

RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_DUMP = 0x300
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
IFA_ADDRESS = 1
IFA_LOCAL = 2


def parse_addresses(messages):
    """RTM_NEWADDR messages [(type, flags, seq, payload)] -> {address: interface index}."""
    found = {}
    for kind, _flags, _seq, payload in messages:
        if kind != RTM_NEWADDR or len(payload) < IFADDRMSG.size:
            continue
        family, _prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(payload, 0)
        attrs = dict(parse_attrs(payload, IFADDRMSG.size))
        # IFA_LOCAL is the address itself on point-to-point links, IFA_ADDRESS the peer.
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw and family in (socket.AF_INET, socket.AF_INET6):
            found[socket.inet_ntop(family, raw)] = index
    return found


def interfaces_by_address(timeout=2.0):
    """{address: interface name} of every address in this network namespace; {} when the
    kernel cannot be asked (the subflows are then reported without their interface)."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    except OSError:
        return {}
    messages = []
    try:
        sock.bind((0, 0))
        sock.settimeout(timeout)
        sock.send(message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)))
        done = False
        while not done:
            for kind, flags, seq, payload in parse_messages(sock.recv(1 << 16)):
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    done = True
                    break
                messages.append((kind, flags, seq, payload))
    except OSError:
        return {}
    finally:
        sock.close()
    names = {}
    for address, index in parse_addresses(messages).items():
        try:
            names[address] = socket.if_indextoname(index)
        except OSError:
            continue
    return names
