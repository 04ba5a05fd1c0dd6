# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's MPTCP counters (`MPTcpExt` in /proc/net/netstat, what `nstat -asz`
shows), their deltas over a check, and what the deltas say about a fallback to TCP.

The counters belong to the network namespace of the process that reads the file. They
count every connection of the namespace: a delta describes one check only when nothing
else opened MPTCP connections meanwhile."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

NETSTAT_PATH = "/proc/net/netstat"
MPTCP_PREFIX = "MPTcpExt"
# Gauges, not counters: their delta says nothing about one connection.
GAUGES = frozenset(["MPCurrEstab"])

# Counters that move when a connection falls back to TCP (or never tries MPTCP), in the
# order a reason is looked for, with what they mean. From net/mptcp/mib.h; later kernels
# added some (a missing one simply never moves).
FALLBACK_REASONS = (
    ("MPCapableSYNTXDisabled",
     "MPTCP was not tried: the kernel disabled it for new connections after earlier "
     "blackholes (net.mptcp.blackhole_timeout)"),
    ("MPCapableSYNTXDrop",
     "the SYNs carrying MP_CAPABLE got no answer and the kernel retried in plain TCP "
     "(something on the path drops MPTCP SYNs; net.mptcp.syn_retrans_before_tcp_fallback)"),
    ("MPCapableFallbackSYNACK",
     "the server answered without MP_CAPABLE: nothing listens with MPTCP on that port "
     "(a plain TCP listener, net.mptcp.enabled = 0 on the server) or a middlebox "
     "stripped the option"),
    ("MPCapableFallbackACK",
     "the client's third ACK carried no MP_CAPABLE: the client does not use MPTCP or a "
     "middlebox stripped the option"),
    ("MPCapableEndpAttempt",
     "the connection went to the port of a signal endpoint, where MP_CAPABLE is refused"),
    ("MPFallbackTokenInit", "the kernel could not allocate an MPTCP token"),
    ("MD5SigFallback", "a TCP-MD5 signature (or another conflicting TCP option) is set on the socket"),
    ("SimultConnectFallback", "a simultaneous connect"),
    ("MPCapableDataFallback",
     "the first data packet carried no MPTCP mapping (a middlebox rewrote the stream)"),
    ("DSSCorruptionFallback", "a corrupted data mapping (DSS) mid-connection (a middlebox)"),
    ("DssFallback", "a bad or missing data mapping (DSS) mid-connection (a middlebox)"),
    ("InfiniteMapTx", "an infinite mapping was sent after a checksum failure"),
    ("InfiniteMapRx", "an infinite mapping was received after a checksum failure"),
    ("Blackhole", "the kernel detected an MPTCP blackhole on the path"),
)
# What moves on a connection that did negotiate MPTCP, per side.
NEGOTIATED_CLIENT = "MPCapableSYNACKRX"
NEGOTIATED_SERVER = "MPCapableACKRX"


def parse_netstat(text, prefix=MPTCP_PREFIX):
    """The counters of one `PREFIX:` pair of lines (names, then values) of
    /proc/net/netstat or /proc/net/snmp -> {name: int}; {} when the prefix is absent
    (a kernel without MPTCP)."""
    lines = [line.split() for line in text.splitlines() if line.startswith(prefix + ":")]
    if not lines:
        return {}
    if len(lines) != 2 or len(lines[0]) != len(lines[1]):
        raise MptcpError("cannot read the %s counters: expected a line of names and a line of "
                         "as many values, got %r" % (prefix, lines))
    try:
        return dict((name, int(value)) for name, value in zip(lines[0][1:], lines[1][1:]))
    except ValueError:
        raise MptcpError("cannot read the %s counters: a value is not a number in %r" % (prefix, lines[1]))


def read_counters(path=NETSTAT_PATH):
    """The MPTcpExt counters of this process's network namespace ({} without MPTCP)."""
    try:
        with open(path) as handle:
            text = handle.read(1 << 20)
    except (IOError, OSError) as exc:
        raise MptcpError("cannot read %s: %s" % (path, exc))
    return parse_netstat(text)


def counter_deltas(before, after):
    """The counters that moved between two readings -> {name: after - before}; gauges are
    left out."""
    deltas = {}
    for name, value in after.items():
        if name in GAUGES:
            continue
        delta = value - before.get(name, 0)
        if delta:
            deltas[name] = delta
    return deltas


def fallback_reason(deltas):
    """Why connections fell back to TCP, from counter deltas: the meaning of the first
    fallback counter that moved, naming the counter; None when none moved."""
    for name, meaning in FALLBACK_REASONS:
        if deltas.get(name, 0) > 0:
            return "%s (%s +%d)" % (meaning, name, deltas[name])
    return None


def negotiated_by_counters(deltas, side):
    """True when the handshake counters of `side` ("client" or "server") say MPTCP was
    negotiated and no fallback counter moved, False when a fallback counter moved or
    MP_CAPABLE was never answered, None when the deltas show no MPTCP handshake at all."""
    if fallback_reason(deltas):
        return False
    if deltas.get(NEGOTIATED_CLIENT if side == "client" else NEGOTIATED_SERVER, 0) > 0:
        return True
    if side == "client" and deltas.get("MPCapableSYNTX", 0) > 0:
        return False
    return None
