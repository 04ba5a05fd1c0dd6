# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each subflow a connection had, what it carried (the kernel's byte counters of the
subflow's own TCP socket, from MPTCP_TCPINFO) and one of those counters over time, so that
a report can say and draw what each path did: the sender's bytes acknowledged, the
receiver's bytes received. Named by its link (local_interfaces) and marked backup or not
from the path manager's events of the subflow (sf_established, sf_prio)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.bounded_series import BoundedSeries

ADDRESS_KEYS = ("local", "local_port", "remote", "remote_port")
COUNTERS = ("bytes_sent", "bytes_acked", "bytes_received", "bytes_retrans")


def subflow_key(subflow):
    return tuple(subflow.get(key) for key in ADDRESS_KEYS)


def backup_by_subflow(events):
    """{(local, local_port, remote, remote_port): backup} from the events that say it, the
    last one winning (sf_prio changes it)."""
    found = {}
    for event in events or ():
        if event.get("type") in ("sf_established", "sf_prio") and event.get("backup") is not None:
            key = (event.get("saddr"), event.get("sport"), event.get("daddr"), event.get("dport"))
            found[key] = bool(event["backup"])
    return found


class SubflowSeries:
    """add(now, subflows) with what read_subflows returned; report() at the end.

    `counter` is the byte counter drawn over time (bytes_acked for a sender,
    bytes_received for a receiver); a subflow that is gone keeps its last counters."""

    def __init__(self, origin, counter):
        self.counter = counter
        self._series = BoundedSeries(origin)
        self._subflows = []
        self._index = {}
        self._origin = origin

    def add(self, now, subflows, force=False):
        seconds = round(now - self._origin, 3)
        values = {}
        for subflow in subflows:
            key = subflow_key(subflow)
            if key not in self._index:
                self._index[key] = len(self._subflows)
                entry = dict((name, subflow.get(name)) for name in ADDRESS_KEYS)
                entry["first_seconds"] = seconds
                self._subflows.append(entry)
            entry = self._subflows[self._index[key]]
            entry["state"] = subflow.get("state")
            entry["last_seconds"] = seconds
            for name in COUNTERS:
                if subflow.get(name) is not None:
                    entry[name] = subflow[name]
            values[self._index[key]] = subflow.get(self.counter)
        self._series.add(now, values, force)

    def report(self, interfaces=None, events=None):
        """-> (subflows, samples): the subflows in the order they appeared, each with its
        addresses, `interface` (null when unknown), `backup` (null without events of it),
        `state` when last seen, the counters and when it was first and last seen; the
        samples as {counter, interval, samples: [[seconds, [counter per subflow, null
        where it was not there]]]}."""
        backups = backup_by_subflow(events)
        subflows = []
        for entry in self._subflows:
            subflow = dict(entry)
            subflow["interface"] = (interfaces or {}).get(entry["local"])
            subflow["backup"] = backups.get(subflow_key(entry))
            # The initial subflow has no sf_established event: it is not backup unless a
            # sf_prio said so, as far as events were collected at all.
            if subflow["backup"] is None and events:
                subflow["backup"] = False
            for name in COUNTERS:
                subflow.setdefault(name, None)
            subflows.append(subflow)
        series = self._series.report()
        count = len(subflows)
        samples = [[seconds, [values.get(index) for index in range(count)]] for seconds, values in series["samples"]]
        return subflows, {"counter": self.counter, "interval": series["interval"], "samples": samples}
