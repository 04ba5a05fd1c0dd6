# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both sides of a transfer share: the seeded data, the rate, the subflows sampled while
the data flows, and the deadline every blocking call is held to."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import random
import socket
import struct

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import (
    PROTOCOL_NAMES,
    read_mptcp_info,
    read_subflows,
)

CHUNK = 1 << 16
POOL = 1 << 20
SAMPLE_EVERY = 0.02  # seconds between two samples of the subflows
OPEN_STATES = ("established", "fin_wait1", "fin_wait2", "close_wait")  # subflows that carry data
LINGER = 2.0  # seconds a side waits for the other's close, and for the CLOSED event


def payload(size, seed, chunk=CHUNK):
    """`size` bytes of pseudo-random data from `seed`, in chunks of at most `chunk` bytes.
    Each chunk starts with the seed and its own index, so no two chunks are equal and a
    lost, doubled or reordered chunk changes the digest."""
    pool = random.Random(seed).getrandbits(POOL * 8).to_bytes(POOL, "little")
    pool += pool[:chunk]
    sent = 0
    index = 0
    while sent < size:
        offset = (index * 40503) % POOL
        block = struct.pack(">IQ", seed, index) + pool[offset:offset + chunk - 12]
        block = block[:min(chunk, size - sent)]
        sent += len(block)
        index += 1
        yield block


def mbit_per_s(count, seconds):
    return round(count * 8 / seconds / 1e6, 3) if seconds > 0 else None


class SubflowSampler:
    """The subflows of a connection over time: the most established at once, the last
    count, the fewest after a mark (a link failure), each change as [seconds since the
    first sample, count] (at most MAX_CHANGES), and the subflows themselves (`paths`).

    Established subflows are counted from MPTCP_TCPINFO (5.16+): MPTCP_INFO's count also
    includes joins still in progress, which may yet be refused. Without it, MPTCP_INFO's
    count is used. `info` is MPTCP_INFO as of the last forced sample. `series` (a
    SubflowSeries), when given, gets every detailed reading, also after freeze(): the
    counters go on until the last byte is acknowledged."""

    MAX_CHANGES = 100

    def __init__(self, sock, clock, series=None):
        self._sock = sock
        self.series = series
        self._clock = clock
        self._first_sample = None
        self._last_sample = None
        self._detailed = True
        self.changes = []
        self.info = None
        self.paths = None
        self.max = None
        self.last = None
        self.min_after_mark = None
        self._marked = False
        self._frozen = False

    def _count(self, force, now):
        if force or not self._detailed:
            self.info = read_mptcp_info(self._sock) or self.info
        if self._detailed:
            subflows = read_subflows(self._sock)
            if subflows is not None:
                if self.series is not None:
                    self.series.add(now, subflows, force)
                self.paths = subflows
                return sum(1 for subflow in subflows if subflow["state"] in OPEN_STATES)
            self._detailed = False
            self.info = read_mptcp_info(self._sock) or self.info
        return self.info["subflows_count"] if self.info is not None else None

    def sample(self, force=False):
        now = self._clock()
        if not force and self._last_sample is not None and now - self._last_sample < SAMPLE_EVERY:
            return
        self._last_sample = now
        if self._first_sample is None:
            self._first_sample = now
        if self._frozen:
            self.info = read_mptcp_info(self._sock) or self.info
            if self.series is not None and self._detailed:
                subflows = read_subflows(self._sock)
                if subflows is not None:
                    self.series.add(now, subflows, force)
            return
        count = self._count(force, now)
        if count is None:
            return
        if count != self.last and len(self.changes) < self.MAX_CHANGES:
            self.changes.append([round(now - self._first_sample, 3), count])
        self.last = count
        self.max = count if self.max is None else max(self.max, count)
        if self._marked:
            self.min_after_mark = count if self.min_after_mark is None else min(self.min_after_mark, count)

    def mark(self):
        self._marked = True

    def freeze(self):
        """Keep the counts and paths as they are now (the data is through; what follows
        is the close)."""
        self._frozen = True


def remaining(deadline, clock):
    remaining = deadline - clock()
    if remaining <= 0:
        raise socket.timeout("timed out")
    return remaining


def family_of(address):
    return socket.AF_INET6 if ipaddress.ip_address(u"%s" % address).version == 6 else socket.AF_INET


def protocol_name(number):
    return PROTOCOL_NAMES.get(number, str(number))
