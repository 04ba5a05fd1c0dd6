# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The events of the kernel path manager (what `ip mptcp monitor` prints), read over
generic netlink with the standard library alone.

The family `mptcp_pm` and its multicast group `mptcp_pm_events` are resolved by name with
CTRL_CMD_GETFAMILY (their numbers are given out at boot), then the socket joins the group
and a thread collects the events until stopped. Since Linux 6.7 joining needs
CAP_NET_ADMIN; a refusal is reported, never fatal. Layouts: include/uapi/linux/netlink.h,
genetlink.h, mptcp_pm.h (before 6.7: mptcp.h)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import select
import socket
import struct
import threading
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.netlink import (
    GENL_HDR,
    NETLINK_ADD_MEMBERSHIP,
    NETLINK_GENERIC,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    SOL_NETLINK,
    message,
    netlink_error,
    pack_attr,
    parse_attrs,
    parse_messages,
)


GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2

MPTCP_PM_NAME = "mptcp_pm"
MPTCP_PM_EV_GRP_NAME = "mptcp_pm_events"

# enum mptcp_event_type -> the names `ip mptcp monitor` prints (lower-cased here).
EVENT_NAMES = {
    1: "CREATED",
    2: "ESTABLISHED",
    3: "CLOSED",
    6: "ANNOUNCED",
    7: "REMOVED",
    10: "SF_ESTABLISHED",
    11: "SF_CLOSED",
    13: "SF_PRIO",
    15: "LISTENER_CREATED",
    16: "LISTENER_CLOSED",
}
# enum mptcp_event_attr: number -> (key, decoder). Addresses and ports are in network
# byte order, everything else native.
_U8, _U16, _U32, _S32, _BE16 = "=B", "=H", "=I", "=i", ">H"
EVENT_ATTRS = {
    1: ("token", _U32),
    2: ("family", _U16),
    3: ("locid", _U8),
    4: ("remid", _U8),
    5: ("saddr", "ipv4"),
    6: ("saddr", "ipv6"),
    7: ("daddr", "ipv4"),
    8: ("daddr", "ipv6"),
    9: ("sport", _BE16),
    10: ("dport", _BE16),
    11: ("backup", _U8),
    12: ("error", _U8),
    13: ("flags", _U16),
    14: ("timeout", _U32),
    15: ("ifindex", _S32),
    16: ("reset_reason", _U32),
    17: ("reset_flags", _U32),
    18: ("server_side", _U8),
}
EV_FLAG_DENY_JOIN_ID0 = 0x1
EV_FLAG_SERVER_SIDE = 0x2  # 6.18; before, the attribute server_side
# The order `ip mptcp monitor` prints the attributes in (iproute2 ip/ipmptcp.c); the
# addresses are saddr4/saddr6 there by family.
MONITOR_ORDER = ("token", "remid", "locid", "saddr", "daddr", "sport", "dport",
                 "backup", "error", "timeout", "ifindex", "reset_reason", "reset_flags")

MAX_EVENTS = 1000


def build_getfamily(name, seq):
    """CTRL_CMD_GETFAMILY for the family `name`, asking for an ACK."""
    payload = GENL_HDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + pack_attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    return message(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, payload)


def parse_family(payload):
    """The payload of a CTRL_CMD_NEWFAMILY answer -> (family id, {group name: group id})."""
    family_id = None
    groups = {}
    for kind, value in parse_attrs(payload, GENL_HDR.size):
        if kind == CTRL_ATTR_FAMILY_ID:
            family_id = struct.unpack("=H", value[:2])[0]
        elif kind == CTRL_ATTR_MCAST_GROUPS:
            for _index, group in parse_attrs(value):
                fields = dict(parse_attrs(group))
                if CTRL_ATTR_MCAST_GRP_NAME in fields and CTRL_ATTR_MCAST_GRP_ID in fields:
                    group_name = fields[CTRL_ATTR_MCAST_GRP_NAME].rstrip(b"\0").decode("ascii", "replace")
                    groups[group_name] = struct.unpack("=I", fields[CTRL_ATTR_MCAST_GRP_ID][:4])[0]
    if family_id is None:
        raise MptcpError("the generic netlink controller answered without a family id")
    return family_id, groups


def _decode(decoder, value):
    if decoder == "ipv4":
        return socket.inet_ntop(socket.AF_INET, value[:4])
    if decoder == "ipv6":
        return socket.inet_ntop(socket.AF_INET6, value[:16])
    size = struct.calcsize(decoder)
    if len(value) < size:
        return None
    return struct.unpack(decoder, value[:size])[0]


def parse_event(payload):
    """The payload of an mptcp_pm event (genl header, then attributes) -> a dict with
    `type` (lower-case, as `ip mptcp monitor` names it), the attributes by the names it
    prints (the token as 8 hex digits like it; saddr/daddr whatever the family),
    server_side and deny_join_id0 from the flags, and `line`: the line `ip mptcp monitor`
    prints."""
    cmd = GENL_HDR.unpack_from(payload, 0)[0]
    name = EVENT_NAMES.get(cmd, "UNKNOWN(%d)" % cmd)
    event = {"type": name.lower()}
    for kind, value in parse_attrs(payload, GENL_HDR.size):
        if kind not in EVENT_ATTRS:
            continue
        key, decoder = EVENT_ATTRS[kind]
        decoded = _decode(decoder, value)
        if decoded is not None:
            event[key] = decoded
    event.pop("family", None)
    if "token" in event:
        event["token"] = "%08x" % event["token"]
    flags = event.pop("flags", 0)
    if flags & EV_FLAG_SERVER_SIDE or event.get("server_side"):
        event["server_side"] = True
    else:
        event.pop("server_side", None)
    if flags & EV_FLAG_DENY_JOIN_ID0:
        event["deny_join_id0"] = True
    other = flags & ~(EV_FLAG_SERVER_SIDE | EV_FLAG_DENY_JOIN_ID0)
    if other:
        event["flags"] = other
    event["line"] = monitor_line(name, event)
    return event


def monitor_line(name, event):
    """`[  SF_ESTABLISHED] token=... ` as iproute2 prints it (ip/ipmptcp.c, 6.18)."""
    words = ["[%16s]" % name]
    for key in MONITOR_ORDER:
        if key not in event:
            continue
        value = event[key]
        if key in ("saddr", "daddr"):
            words.append("%s%s=%s" % (key, "6" if ":" in value else "4", value))
        elif key == "reset_flags":
            words.append("reset_flags=0x%x" % value)
        else:
            words.append("%s=%s" % (key, value))
    if event.get("server_side"):
        words.append("server_side")
    if event.get("deny_join_id0"):
        words.append("deny_join_id0")
    if event.get("flags"):
        words.append("flags=0x%x" % event["flags"])
    return " ".join(words)


def resolve_family(sock, name, timeout=2.0, seq=None):
    """Ask the generic netlink controller for `name` over `sock` -> (family id, groups).
    MptcpError when the kernel has no such family (no MPTCP) or does not answer."""
    if seq is None:
        seq = int(time.time()) & 0x7FFFFFFF
    sock.send(build_getfamily(name, seq))
    deadline = time.time() + timeout
    family_id, groups = None, None
    while time.time() < deadline:
        if not select.select([sock], [], [], max(0.0, deadline - time.time()))[0]:
            continue
        for kind, _flags, msg_seq, payload in parse_messages(sock.recv(65536)):
            if msg_seq != seq:
                continue
            if kind == GENL_ID_CTRL:
                family_id, groups = parse_family(payload)
            elif kind == NLMSG_ERROR and netlink_error(payload) == -errno.ENOENT:
                raise MptcpError("the kernel has no generic netlink family %r (no MPTCP path manager)" % name)
            elif kind == NLMSG_ERROR and netlink_error(payload):
                raise MptcpError("asking for the generic netlink family %r failed: %s"
                                 % (name, os.strerror(-netlink_error(payload))))
            elif kind in (NLMSG_ERROR, NLMSG_DONE) and family_id is not None:
                return family_id, groups
    raise MptcpError("the generic netlink controller did not answer about %r" % name)


class EventListener:
    """Collects the path manager's events in a thread, from start() to stop().

    `warning` says why no events could be collected (no family, subscription refused);
    `events` holds at most MAX_EVENTS, `dropped` counts those left out or lost by the
    socket (ENOBUFS)."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._sock = None
        self._thread = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._started_at = None
        self.family_id = None
        self.events = []
        self.dropped = 0
        self.warning = None

    def start(self):
        """Subscribe and start collecting; False (and `warning` set) when not possible."""
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        except (OSError, AttributeError) as exc:
            self.warning = "cannot open a generic netlink socket, no MPTCP events: %s" % exc
            return False
        try:
            sock.bind((0, 0))
            self.family_id, groups = resolve_family(sock, MPTCP_PM_NAME)
            if MPTCP_PM_EV_GRP_NAME not in groups:
                raise MptcpError("the family %r has no group %r" % (MPTCP_PM_NAME, MPTCP_PM_EV_GRP_NAME))
            sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups[MPTCP_PM_EV_GRP_NAME])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except (MptcpError, OSError) as exc:
            sock.close()
            hint = ""
            if isinstance(exc, OSError) and exc.errno == errno.EPERM:
                hint = " (joining needs CAP_NET_ADMIN since Linux 6.7: become root)"
            self.warning = "cannot subscribe to the MPTCP path manager events, none are reported: %s%s" % (exc, hint)
            return False
        self._sock = sock
        self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="mptcp-pm-events")
        self._thread.daemon = True
        self._thread.start()
        return True

    def _run(self):
        while not self._stop.is_set():
            try:
                if select.select([self._sock], [], [], 0.1)[0]:
                    self._receive()
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                self.dropped += 1

    def _receive(self):
        try:
            data = self._sock.recv(1 << 16)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                self.dropped += 1
                return
            raise
        for kind, _flags, _seq, payload in parse_messages(data):
            if kind != self.family_id:
                continue
            event = parse_event(payload)
            event["time"] = round(self._clock() - self._started_at, 3)
            with self._changed:
                if len(self.events) < MAX_EVENTS:
                    self.events.append(event)
                else:
                    self.dropped += 1
                self._changed.notify_all()

    def wait_for(self, predicate, timeout):
        """Wait up to `timeout` seconds for an event matching predicate(event)."""
        deadline = self._clock() + timeout
        with self._changed:
            while not any(predicate(event) for event in self.events):
                remaining = deadline - self._clock()
                if remaining <= 0 or self._thread is None:
                    return False
                self._changed.wait(min(remaining, 0.1))
        return True

    def snapshot(self):
        """The events collected so far, while collecting goes on."""
        with self._changed:
            return list(self.events)

    def stop(self):
        """Stop collecting and close the socket; returns the events collected."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with self._changed:
            return list(self.events)


def events_of(events, tokens):
    """The events of the connections whose tokens are given (8 hex digits)."""
    tokens = set(tokens)
    return [event for event in events if event.get("token") in tokens]
