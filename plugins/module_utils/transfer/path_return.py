# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A path that comes back, timed: during an open transfer the client takes one of its
paths away (its addresses removed, or its link down), holds it away until none of the
connection's subflows is from it any more (or a bound), gives it back, and measures how
long until the connection uses it again: a subflow from that interface's addresses that
is new, or one that was there and carries bytes again, as the kernel lists the
connection's subflows (MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS, through the sampler)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.stream import OPEN_STATES
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.subflow_series import subflow_key

POLL = 0.05  # seconds between two readings of the subflows while the path is away or coming back


def open_from(paths, addresses):
    """{subflow key: bytes acknowledged} of the open subflows from these local addresses."""
    return dict((subflow_key(path), path.get("bytes_acked") or 0) for path in paths or ()
                if path.get("local") in addresses and path.get("state") in OPEN_STATES)


def used_again(now_open, at_return):
    """(used again, by a new subflow) -> the connection uses the path once a subflow from
    it is there that was not at the return, or one that was carries new bytes (a subflow
    that never closed and resumes)."""
    if any(key not in at_return for key in now_open):
        return True, True
    return any(acked > at_return[key] for key, acked in now_open.items()), False


class PathReturn:
    """start() takes the path away; step() after each piece sent (the data goes on: a
    subflow with nothing to send would never time out) gives it back once its subflow
    closed or `hold` seconds passed, then watches for its use until `wait` seconds passed;
    finish(deadline) does the rest without sending, when the data ran out first. `report`
    says what happened; times are counted from the moment the client starts giving the
    path back. restore() of the failure raises MptcpError when the path cannot be given
    back."""

    def __init__(self, failure, sampler, hold, wait, clock=time.monotonic, sleep=time.sleep):
        self.failure = failure
        self.sampler = sampler
        self.hold = hold
        self.wait = wait
        self.clock = clock
        self.sleep = sleep
        self.done = False
        self.report = {"interface": failure.interface}
        self._phase = None
        self._addresses = set()
        self._at_return = {}
        self._away_at = self._back_at = None

    def start(self):
        self.sampler.sample(force=True)
        if self.sampler.paths is None:
            self.report["error"] = ("the kernel does not list the connection's subflows (MPTCP_TCPINFO, Linux 5.16 "
                                    "and later): nothing to time")
            self.done = True
            return
        self.failure.fail()
        self._away_at = self.clock()
        self._addresses = set(address for address in self.failure.local_addresses if address)
        self.report.update({"addresses": sorted(self._addresses), "subflow_closed": False, "closed_after_seconds": None,
                            "rejoined": False, "rejoin_seconds": None, "new_subflow": None})
        self._phase = "away"

    def _give_back(self, now):
        self._at_return = open_from(self.sampler.paths, self._addresses)
        self._back_at = now
        self.report["away_seconds"] = round(now - self._away_at, 3)
        self._phase = "back"
        self.failure.restore()

    def step(self, force=False):
        if self.done or self._phase is None:
            return
        self.sampler.sample(force=force)
        now = self.clock()
        now_open = open_from(self.sampler.paths, self._addresses)
        if self._phase == "away":
            if not now_open:
                self.report.update({"subflow_closed": True, "closed_after_seconds": round(now - self._away_at, 3)})
                self._give_back(now)
            elif now - self._away_at >= self.hold:
                self._give_back(now)
            return
        used, new = used_again(now_open, self._at_return)
        if used:
            self.report.update({"rejoined": True, "rejoin_seconds": round(now - self._back_at, 3), "new_subflow": new})
            self.done = True
        elif now - self._back_at >= self.wait:
            self.done = True

    def finish(self, deadline):
        """The phases left, without sending, bounded by the transfer's deadline."""
        while not self.done and self._phase is not None and self.clock() < deadline:
            self.step(force=True)
            if not self.done:
                self.sleep(POLL)
