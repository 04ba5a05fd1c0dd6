# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what differs between the state found and the state wanted, for `changed` and
for Ansible's diff (before/after dicts of normalised values)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DifferenceTracker:
    """Collects (name, before, after); `changed` is true only where before != after, so a
    module's changed flag comes from comparing normalised state, never from "a command ran"."""

    def __init__(self):
        self._items = []

    def add(self, name, before, after):
        self._items.append((name, before, after))

    @property
    def changed(self):
        return any(before != after for _name, before, after in self._items)

    def differences(self):
        return [(name, before, after) for name, before, after in self._items if before != after]

    def diff(self, before_header=None, after_header=None):
        """Ansible's diff: the full before and after of every tracked name."""
        result = {
            "before": dict((name, before) for name, before, _after in self._items),
            "after": dict((name, after) for name, _before, after in self._items),
        }
        if before_header:
            result["before_header"] = before_header
        if after_header:
            result["after_header"] = after_header
        return result
