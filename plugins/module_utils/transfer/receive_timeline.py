# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the receiver saw arrive over time: its byte count, sampled, and the longest stretch
with no new bytes (a failover's gap), measured between the arrivals themselves, not
between samples, so it is as fine as recv() returns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.bounded_series import BoundedSeries


class ReceiveTimeline:
    """received(now, total) after every recv() that returned bytes; report() at the end."""

    def __init__(self, origin):
        self._origin = origin
        self._series = BoundedSeries(origin)
        self._last_arrival = None
        self._last_total = 0
        self.longest_gap = 0.0
        self.longest_gap_at = None
        self.longest_gap_after_bytes = None

    def received(self, now, total):
        if self._last_arrival is not None and now - self._last_arrival > self.longest_gap:
            self.longest_gap = now - self._last_arrival
            self.longest_gap_at = self._last_arrival - self._origin
            self.longest_gap_after_bytes = self._last_total
        self._last_arrival = now
        self._last_total = total
        self._series.add(now, total)

    def report(self):
        """The sampled byte count (with the last arrival always in it) and the longest gap,
        in ms, with when it began (seconds after the connection was accepted) and after
        how many bytes; 0 and nulls with fewer than two arrivals."""
        if self._last_arrival is not None:
            samples = self._series.samples
            if not samples or samples[-1][1] != self._last_total:
                self._series.add(self._last_arrival, self._last_total, force=True)
        report = self._series.report()
        report.update({
            "longest_gap_ms": int(round(self.longest_gap * 1000)),
            "longest_gap_at_seconds": None if self.longest_gap_at is None else round(self.longest_gap_at, 3),
            "longest_gap_after_bytes": self.longest_gap_after_bytes,
        })
        return report
