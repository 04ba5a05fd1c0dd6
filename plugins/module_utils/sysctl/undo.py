# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting back what a successful mptcp_sysctl run changed, for mptcp_host when a later
part of its batch is refused: the runtime values read before the run, and the owned file's
text (or its absence)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import commit, discard, read_text, remove, stage
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import interface_keys
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import read_snapshot, rollback


class SysctlBefore:
    """What the host had before a run with these parameters: read before it changes anything."""

    def __init__(self, params):
        self.path = params["path"]
        self.keys = interface_keys(params["settings"])
        self.snapshot = read_snapshot(interface_keys=self.keys)
        self.text = read_text(self.path)

    def restore(self, host):
        """Write back every value that differs now and the file as it was; returns the
        problems met (empty: all put back)."""
        with HostLock(os.path.dirname(self.path), self.path, shared=False):
            now = read_snapshot(interface_keys=self.keys)
            differing = [key for key, value in sorted(self.snapshot.values.items()) if now.values.get(key) != value]
            problems = ["%s could not be put back" % name for name in rollback(differing, self.snapshot)]
            if read_text(self.path) != self.text:
                try:
                    self._restore_file(host)
                except MptcpError as error:
                    problems.append("%s" % error)
        return problems

    def _restore_file(self, host):
        if self.text is None:
            remove(self.path)
            return
        temp = stage(self.path, self.text)
        try:
            commit(host, temp, self.path)
        finally:
            discard(temp)
