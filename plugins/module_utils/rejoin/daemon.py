# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp-rejoin: give the open MPTCP connections their subflow again when a path comes back.

The in-kernel path manager opens a subflow from an endpoint once, when the connection is
made or when the endpoint is added; a subflow that closed on error (its address removed,
or its link down, long enough for TCP to give up) is never opened again, and on the
kernels seen (6.18) the endpoint of a removed address stays as it was. This program
listens on rtnetlink for addresses and links; when a listed endpoint's address returns to
its interface, or its interface carries again after it went down, it deletes that
endpoint and adds it again with its id, flags, port and dev (`ip mptcp endpoint`), which
makes the kernel open subflows from it on every open connection (subflow and fullmesh
endpoints) and announce it again (signal).

Installed on the managed hosts by the role mptcp.linux.mptcp (mptcp_rejoin: true) as one
file run by the host's Python (3.6+), so it uses the standard library alone and imports
nothing of the collection. Usage: python3 mptcp-rejoin.py CONFIG.json, where CONFIG is
{"ip": "/usr/sbin/ip", "settle": 0.5, "endpoints": [{address, dev, id, port, flags}]}.

It lives in module_utils because the module that installs it (mptcp_host, part rejoin)
carries it to the host in its own payload, so the program installed is always the one of
the collection that installs it; but it is a program of its own, run by systemd and not by
Ansible: it has no AnsibleModule, so it runs `ip` with subprocess, logs to stderr (the
journal) and exits with sys.exit, which sanity's ansible-bad-function forbids in module
code (hence the three pylint disables, as ansible-core exempts its async_wrapper)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import select
import socket
import struct
import subprocess
import sys
import time

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETLINK = 18
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300

NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
NLA_HDR = struct.Struct("=HH")  # len, type
NLA_TYPE_MASK = 0x3FFF
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_FLAGS = 8
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFF_UP = 0x1
IFF_RUNNING = 0x40
ENDPOINT_FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar")


# --- rtnetlink messages --------------------------------------------------------------

def _align(length):
    return (length + 3) & ~3


def parse_messages(data):
    """One datagram -> [(type, payload)]; stops at a truncated message."""
    messages = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > len(data):
            break
        messages.append((kind, bytes(data[offset + NLMSG_HDR.size:offset + length])))
        offset += _align(length)
    return messages


def parse_attrs(data, offset):
    """Attributes in data[offset:] -> {type: payload} (the first of each type)."""
    attrs = {}
    while offset + NLA_HDR.size <= len(data):
        length, kind = NLA_HDR.unpack_from(data, offset)
        if length < NLA_HDR.size or offset + length > len(data):
            break
        attrs.setdefault(kind & NLA_TYPE_MASK, data[offset + NLA_HDR.size:offset + length])
        offset += _align(length)
    return attrs


class AddressEvent:
    """RTM_NEWADDR / RTM_DELADDR: `usable` is False for an address still in duplicate
    address detection (IPv6 tentative) or that failed it: a subflow cannot use it yet."""

    def __init__(self, added, address, index, usable):
        self.added = added
        self.address = address
        self.index = index
        self.usable = usable


class LinkEvent:
    """RTM_NEWLINK / RTM_DELLINK: `carrying` is up and running (IFF_UP and IFF_RUNNING)."""

    def __init__(self, name, index, carrying):
        self.name = name
        self.index = index
        self.carrying = carrying


def parse_address(kind, payload):
    if len(payload) < IFADDRMSG.size:
        return None
    family, _prefixlen, flags, _scope, index = IFADDRMSG.unpack_from(payload)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs = parse_attrs(payload, IFADDRMSG.size)
    # IFA_LOCAL is the local address where IFA_ADDRESS is a point-to-point peer's.
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw is None or len(raw) != (4 if family == socket.AF_INET else 16):
        return None
    if IFA_FLAGS in attrs and len(attrs[IFA_FLAGS]) >= 4:
        flags = struct.unpack("=I", attrs[IFA_FLAGS][:4])[0]  # all 32 bits; ifa_flags has 8
    usable = not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)
    return AddressEvent(kind == RTM_NEWADDR, socket.inet_ntop(family, raw), index, usable)


def parse_link(kind, payload):
    if len(payload) < IFINFOMSG.size:
        return None
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(payload)
    name = parse_attrs(payload, IFINFOMSG.size).get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode("utf-8", "replace")
    carrying = kind == RTM_NEWLINK and bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)
    return LinkEvent(name, index, carrying)


def parse_events(data):
    """One rtnetlink datagram -> its address and link events, others left out."""
    events = []
    for kind, payload in parse_messages(data):
        if kind in (RTM_NEWADDR, RTM_DELADDR):
            event = parse_address(kind, payload)
        elif kind in (RTM_NEWLINK, RTM_DELLINK):
            event = parse_link(kind, payload)
        else:
            event = None
        if event is not None:
            events.append(event)
    return events


# --- which endpoints come back ---------------------------------------------------------

def normal_address(address):
    """One spelling per address (2001:DB8::1 and 2001:db8:0::1 are the same)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_ntop(family, socket.inet_pton(family, address))


class Watcher:
    """Endpoints and what was seen of their paths: feed(event, now) takes an event,
    due(now) gives the endpoints to add again, each once per return, `settle` seconds
    after the last event about it (routes settle after a link comes up). An endpoint is
    due once its path was seen gone and is whole again: its address back and usable (an
    IPv6 address after duplicate address detection), its interface carrying. An address
    event for an address that never went (a lifetime refreshed) or a link event that
    changes nothing is no return: adding again would close the subflows it carries."""

    def __init__(self, endpoints, settle, index_of):
        self.endpoints = [dict(e, address=normal_address(e["address"])) for e in endpoints]
        self.settle = settle
        self.index_of = index_of  # interface name -> index, or None
        self.lost = set()  # positions in endpoints whose path went away since they were added
        self.address_gone = set()
        self.link_gone = set()
        self.pending = {}  # position -> when it is due

    def start(self, events, now):
        """What the host has when the daemon starts (its dump of links and addresses, and
        the events sent meanwhile, in order): an endpoint whose address is not there went
        before the daemon saw it go, so that its return counts; a link that does not
        carry, likewise."""
        present = set()
        for event in events:
            if isinstance(event, AddressEvent):
                address = normal_address(event.address)
                if event.added and event.usable:
                    present.add(address)
                elif not event.added:
                    present.discard(address)
        for position, endpoint in enumerate(self.endpoints):
            if endpoint["address"] not in present:
                self._gone(position, self.address_gone)
        for event in events:
            if isinstance(event, LinkEvent):
                self.feed(event, now)

    def _matches_dev(self, endpoint, index, name=None):
        if not endpoint.get("dev"):
            return True
        if name:
            return endpoint["dev"] == name
        return self.index_of(endpoint["dev"]) == index

    def _gone(self, position, missing):
        missing.add(position)
        self.lost.add(position)
        self.pending.pop(position, None)

    def _back(self, position, missing, now):
        missing.discard(position)
        if position in self.lost and position not in self.address_gone | self.link_gone:
            self.pending[position] = now + self.settle

    def feed(self, event, now):
        for position, endpoint in enumerate(self.endpoints):
            if isinstance(event, AddressEvent):
                if normal_address(event.address) != endpoint["address"]:
                    continue
                if not event.added:
                    self._gone(position, self.address_gone)
                elif event.usable and self._matches_dev(endpoint, event.index):
                    self._back(position, self.address_gone, now)
            elif endpoint.get("dev") and self._matches_dev(endpoint, event.index, event.name):
                if not event.carrying:
                    self._gone(position, self.link_gone)
                else:
                    self._back(position, self.link_gone, now)

    def due(self, now):
        ready = sorted(position for position, when in self.pending.items() if when <= now)
        for position in ready:
            del self.pending[position]
            self.lost.discard(position)
        return [self.endpoints[position] for position in ready]

    def next_timeout(self, now):
        if not self.pending:
            return None
        return max(0.0, min(self.pending.values()) - now)


# --- the kernel's endpoints, through iproute2 -------------------------------------------

def add_argv(ip, endpoint):
    argv = [ip, "mptcp", "endpoint", "add", endpoint["address"]]
    if endpoint.get("port"):
        argv += ["port", str(endpoint["port"])]
    if endpoint.get("dev"):
        argv += ["dev", endpoint["dev"]]
    if endpoint.get("id"):
        argv += ["id", str(endpoint["id"])]
    return argv + [flag for flag in endpoint.get("flags") or [] if flag in ENDPOINT_FLAGS]


def _run(argv):
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                               universal_newlines=True)
    out, err = process.communicate()
    return process.returncode, out, err


def endpoint_ids(text):
    """`ip mptcp endpoint show` (text: "ADDRESS [port N] id N FLAGS... [dev X]" a line) ->
    [(address, id)]. The text, not -j: iproute2 5.9 (Debian 11) prints broken JSON for
    it ('}}' at the end)."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and "id" in words[1:-1]:
            try:
                found.append((normal_address(words[0]), int(words[words.index("id", 1) + 1])))
            except (ValueError, OSError, socket.error):
                continue
    return found


def rejoin(ip, endpoint, run=_run):
    """Delete the endpoint of this address (whatever its id) and add it again -> the
    problems met (empty: done)."""
    rc, out, err = run([ip, "mptcp", "endpoint", "show"])
    if rc != 0:
        return ["ip mptcp endpoint show: %s" % err.strip()]
    problems = []
    for address, number in endpoint_ids(out):
        if address == endpoint["address"]:
            rc, _out, err = run([ip, "mptcp", "endpoint", "delete", "id", str(number)])
            if rc != 0:
                problems.append("delete id %s: %s" % (number, err.strip()))
    rc, _out, err = run(add_argv(ip, endpoint))
    if rc != 0:
        problems.append("%s: %s" % (" ".join(add_argv("ip", endpoint)), err.strip()))
    return problems


# --- the program -----------------------------------------------------------------------

def _index_of(name):
    try:
        return socket.if_nametoindex(name)
    except (OSError, socket.error):
        return None


def open_socket():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    return sock


def dump(sock, kind, header):
    """Ask for every link (RTM_GETLINK) or address (RTM_GETADDR) -> the events of the answer,
    and of what was sent meanwhile (the socket already listens: nothing falls between)."""
    sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + header.size, kind, NLM_F_REQUEST | NLM_F_DUMP, kind, 0)
              + b"\0" * header.size)
    events = []
    while True:
        data = sock.recv(1 << 16)
        messages = parse_messages(data)
        events += parse_events(data)
        for message_kind, payload in messages:
            if message_kind == NLMSG_ERROR and struct.unpack("=i", payload[:4])[0] != 0:
                raise OSError(-struct.unpack("=i", payload[:4])[0], "rtnetlink dump refused")
            if message_kind == NLMSG_DONE:
                return events


def log(message):
    print("mptcp-rejoin: %s" % message, file=sys.stderr)  # pylint: disable=ansible-bad-function
    sys.stderr.flush()


def serve(config, sock, clock=time.monotonic):
    watcher = Watcher(config["endpoints"], float(config.get("settle", 0.5)), _index_of)
    ip = config.get("ip") or "ip"
    events = dump(sock, RTM_GETLINK, IFINFOMSG) + dump(sock, RTM_GETADDR, IFADDRMSG)
    watcher.start(events, clock())
    log("watching %s" % ", ".join("%s%s" % (e["address"], " dev %s" % e["dev"] if e.get("dev") else "")
                                  for e in watcher.endpoints))
    while True:
        readable, _w, _x = select.select([sock], [], [], watcher.next_timeout(clock()))
        if readable:
            try:
                data = sock.recv(1 << 16)
            except (OSError, socket.error) as error:
                if error.errno != errno.ENOBUFS:
                    raise
                # Events were lost: a path may have gone and come back unseen.
                log("events lost (ENOBUFS); every endpoint is added again")
                now = clock()
                watcher.lost.update(range(len(watcher.endpoints)))
                watcher.pending.update((position, now) for position in range(len(watcher.endpoints)))
                data = b""
            for event in parse_events(data):
                watcher.feed(event, clock())
        for endpoint in watcher.due(clock()):
            problems = rejoin(ip, endpoint)
            log("%s: %s" % (endpoint["address"], "; ".join(problems) if problems else "added again"))


def main(argv):
    if len(argv) != 2:
        log("usage: %s CONFIG.json" % argv[0])
        return 2
    with open(argv[1]) as handle:
        config = json.load(handle)
    try:
        serve(config, open_socket())
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))  # pylint: disable=ansible-bad-function
