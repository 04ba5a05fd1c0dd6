# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take a network link down for a failover check and put it back as it was.

`ip link set dev X down` costs more than the carrier: the kernel drops every route
through the link (a default route too) and, unless net.ipv6.conf.X.keep_addr_on_down is
set, its static IPv6 addresses. Bringing it up restores only the connected IPv4 routes.
So the addresses and routes are recorded before (`ip -j address show`, `ip route save`)
and what is missing afterwards is added back: the addresses by `ip address add`, the
routes by `ip route restore` with those the kernel makes itself (protocol kernel, the
local table) left out. The routes are recorded with `ip route save` and sent back as
they are over rtnetlink (what `ip route restore` does, which needs a seekable stdin and
so a shell redirection). Commands are argument lists run by the caller's `run(argv) ->
(rc, stdout bytes, stderr bytes)`; nothing goes through a shell."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import socket
import struct
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.netlink import (
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    message,
    netlink_error,
    parse_messages,
)

SYS_CLASS_NET = "/sys/class/net"
ROUTE_DUMP_MAGIC = 0x45311224  # iproute2's `ip route save` header
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
RTPROT_KERNEL = 2
RT_TABLE_LOCAL = 255
INFINITE_LIFETIME = 4294967295
# Address flags `ip address add` takes back as words.
ADDRESS_FLAG_WORDS = ("nodad", "noprefixroute", "home", "mngtmpaddr")
_IFNAME = re.compile(r"^[^\s/:]{1,15}$")


def validate_interface(name, sys_class_net=SYS_CLASS_NET):
    """The interface to fail must be a valid name of an existing link other than lo."""
    if not isinstance(name, str) or not _IFNAME.match(name) or name in (".", ".."):
        raise ValidationError("fail_interface %r is not a valid interface name (1-15 characters, "
                              "no space, '/' or ':')" % (name,))
    if name == "lo":
        raise ValidationError("fail_interface 'lo' cannot be failed: MPTCP paths go over real links")
    if not os.path.exists(os.path.join(sys_class_net, name)):
        raise ValidationError("fail_interface %r does not exist on this host (no %s)"
                              % (name, os.path.join(sys_class_net, name)))


def _address_infos(show_json):
    links = json.loads(show_json) if show_json.strip() else []
    return [info for link in links for info in link.get("addr_info", [])]


def persistent_addresses(show_json):
    """`ip -j address show dev X` -> the addresses a daemon would not bring back by itself:
    [(family, address, prefixlen, flag words)], link-local and temporary ones left out."""
    addresses = []
    for info in _address_infos(show_json):
        if info.get("scope") == "link" or info.get("dynamic") or info.get("temporary"):
            continue
        if info.get("valid_life_time", INFINITE_LIFETIME) != INFINITE_LIFETIME:
            continue
        words = tuple(word for word in ADDRESS_FLAG_WORDS if info.get(word))
        addresses.append((info.get("family"), info.get("local"), info.get("prefixlen"), words))
    return addresses


def routes_to_restore(dump):
    """`ip route save` output -> [(message type, payload)] of the RTM_NEWROUTE messages of
    the routes someone added (not protocol kernel, not the local table)."""
    if len(dump) < 4 or struct.unpack_from("=I", dump, 0)[0] != ROUTE_DUMP_MAGIC:
        raise MptcpError("`ip route save` wrote no route dump (%d bytes)" % len(dump))
    kept = []
    for kind, _flags, _seq, payload in parse_messages(dump[4:]):
        if len(payload) < RTMSG.size:
            continue
        table, protocol = RTMSG.unpack_from(payload, 0)[4:6]
        if protocol != RTPROT_KERNEL and table != RT_TABLE_LOCAL:
            kept.append((kind, payload))
    return kept


def add_routes(routes, timeout=2.0):
    """Send recorded routes ([(message type, payload)]) back to the kernel, each as a
    request that creates the route unless it exists -> (added, already there, [errors])."""
    added, existing, errors = 0, 0, []
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        sock.settimeout(timeout)
        for seq, (kind, payload) in enumerate(routes, 1):
            sock.send(message(kind, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, payload))
            code = _ack(sock, seq)
            if code == 0:
                added += 1
            elif code == -errno.EEXIST:
                existing += 1
            else:
                errors.append(os.strerror(-code))
    finally:
        sock.close()
    return added, existing, errors


def _ack(sock, seq):
    while True:
        for kind, _flags, msg_seq, payload in parse_messages(sock.recv(65536)):
            if kind == NLMSG_ERROR and msg_seq == seq:
                return netlink_error(payload)


class LinkFailure:
    """fail() takes `interface` down, restore() brings it up with its addresses and
    routes; restore() is safe to call more than once and when fail() never ran."""

    def __init__(self, run, interface, clock=time.time, sleep=time.sleep):
        self._run = run
        self.interface = interface
        self._clock = clock
        self._sleep = sleep
        self._addresses = None
        self._routes = []
        self.local_addresses = []
        self.failed = False
        self.report = {"interface": interface}

    def _ip(self, *args):
        argv = ["ip"] + list(args)
        rc, out, err = self._run(argv)
        if rc != 0:
            raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, _text(err).strip()))
        return out

    def _addresses_now(self):
        return _text(self._ip("-j", "address", "show", "dev", self.interface))

    def fail(self):
        """Record the link's addresses and routes, then take it down."""
        shown = self._addresses_now()
        self.local_addresses = [info.get("local") for info in _address_infos(shown)]
        self._addresses = persistent_addresses(shown)
        self._routes = routes_to_restore(self._ip("route", "save", "table", "all", "dev", self.interface))
        self._ip("link", "set", "dev", self.interface, "down")
        self.failed = True
        self.report["down_at"] = self._clock()

    def restore(self, wait=5.0):
        """Bring the link up and add back what went missing; the report says what was
        done. Raises MptcpError when the link cannot be brought up."""
        if not self.failed:
            return self.report
        self._bring_back()
        self.failed = False
        self.report["up_at"] = self._clock()
        return self._after_back(wait)

    def _bring_back(self):
        self._ip("link", "set", "dev", self.interface, "up")

    def _after_back(self, wait):
        self._wait_up(wait)
        return self._add_back(wait)

    def _add_back(self, wait):
        # On a host whose links NetworkManager manages, it re-activates the profile at the
        # same time, re-adding addresses and routes itself: what it added first is fine
        # (EEXIST), and a route refused as unreachable (its address or connected route not
        # back yet) is tried again until `wait` is up.
        deadline = self._clock() + wait
        present = persistent_addresses(self._addresses_now())
        self.report["addresses_readded"] = []
        for family, address, prefixlen, words in self._addresses:
            if (family, address, prefixlen, words) in present:
                continue
            argv = ["ip", "-6" if family == "inet6" else "-4", "address", "add", "%s/%s" % (address, prefixlen),
                    "dev", self.interface] + list(words)
            rc, _out, err = self._run(argv)
            if rc == 0:
                self.report["addresses_readded"].append("%s/%s" % (address, prefixlen))
            elif (family, address, prefixlen, words) not in persistent_addresses(self._addresses_now()):
                raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, _text(err).strip()))
        added, errors = 0, []
        while self._routes:
            added_now, _existing, errors = add_routes(self._routes)
            added += added_now
            if not errors or self._clock() >= deadline:
                break
            self._sleep(0.1)
        self.report["routes_restored"] = added
        if errors:
            raise MptcpError("%d route(s) of %s could not be added back: %s"
                             % (len(errors), self.interface, ", ".join(sorted(set(errors)))))
        self.report["restored"] = True
        return self.report

    def _wait_up(self, wait):
        """Until the kernel reports the link up again (a veth peer or a cable: carrier)."""
        deadline = self._clock() + wait
        path = os.path.join(SYS_CLASS_NET, self.interface, "operstate")
        while self._clock() < deadline:
            try:
                with open(path) as handle:
                    if handle.read().strip() in ("up", "unknown"):
                        return
            except (IOError, OSError):
                return
            self._sleep(0.05)


def _text(data):
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


class AddressRemoval(LinkFailure):
    """fail() removes the link's static addresses (the kernel drops the routes through
    them with the last one), the link stays up; restore() adds them back with the routes.
    A path taken away the way a DHCP lease that ends or an address change does."""

    def fail(self):
        shown = self._addresses_now()
        self.local_addresses = [info.get("local") for info in _address_infos(shown)]
        self._addresses = persistent_addresses(shown)
        if not self._addresses:
            raise MptcpError("%s has no static address to take away" % self.interface)
        self._routes = routes_to_restore(self._ip("route", "save", "table", "all", "dev", self.interface))
        for family, address, prefixlen, _words in self._addresses:
            self._ip("-6" if family == "inet6" else "-4", "address", "del", "%s/%s" % (address, prefixlen),
                     "dev", self.interface)
        self.failed = True
        self.report["down_at"] = self._clock()

    def _bring_back(self):
        pass  # the link stayed up

    def _after_back(self, wait):
        return self._add_back(wait)


class NetworkManagerDisconnect(LinkFailure):
    """fail() has NetworkManager take the device's connection down (`nmcli device
    disconnect`: its addresses, routes and MPTCP endpoints go), restore() has it connect
    the device again (`nmcli device connect`, which waits for the activation): the way
    NetworkManager itself takes a path away and gives it back, the one after which it adds
    its endpoints again (it leaves them as they are when an address or a link changes
    behind its back)."""

    def _nmcli(self, *args):
        argv = ["nmcli", "--wait", "15"] + list(args)
        rc, _out, err = self._run(argv)
        if rc != 0:
            raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, _text(err).strip()))

    def fail(self):
        shown = self._addresses_now()
        self.local_addresses = [info.get("local") for info in _address_infos(shown)]
        self._nmcli("device", "disconnect", self.interface)
        self.failed = True
        self.report["down_at"] = self._clock()

    def _bring_back(self):
        pass  # up_at is when `nmcli device connect` starts: it waits for the activation

    def _after_back(self, wait):
        self._nmcli("device", "connect", self.interface)
        self.report.update({"addresses_readded": [], "routes_restored": 0, "restored": True})
        return self.report
