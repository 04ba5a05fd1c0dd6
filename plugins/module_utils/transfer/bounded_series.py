# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A time series that stays small however long a transfer runs: a sample every `interval`
seconds at most, and when it holds `limit` samples every other one goes and the interval
doubles (the first and the last sample always stay)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SAMPLE_INTERVAL = 0.1  # seconds: fine enough to see a failover stall of a few hundred ms
SAMPLE_LIMIT = 300  # samples per series: 30 s at 0.1 s, then coarser


class BoundedSeries:
    """[seconds since `origin`, value] pairs; add() returns whether it kept the sample."""

    def __init__(self, origin, interval=SAMPLE_INTERVAL, limit=SAMPLE_LIMIT):
        self._origin = origin
        self.interval = interval
        self._limit = max(limit, 2)
        self.samples = []

    def add(self, now, value, force=False):
        seconds = round(now - self._origin, 3)
        if not force and self.samples and seconds - self.samples[-1][0] < self.interval:
            return False
        self.samples.append([seconds, value])
        if len(self.samples) > self._limit:
            kept = self.samples[::2]
            if kept[-1] is not self.samples[-1]:
                kept.append(self.samples[-1])
            self.samples = kept
            self.interval *= 2
        return True

    def report(self):
        return {"interval": round(self.interval, 3), "samples": self.samples}
