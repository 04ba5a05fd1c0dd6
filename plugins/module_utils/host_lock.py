# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two runs on one host at once (two playbooks, or a playbook and the boot unit's run) take
their turns: each holds a lock from reading the state to reading back what it changed, so
neither plans from a state the other is changing, undoes the other's steps, or writes a
file from a stale copy.

The lock is flock(2) on something that exists anyway, so nothing is created: the network
namespace itself (its nsfs inode, the same through /proc/self/ns/net inside it and
/run/netns/NAME outside) for the path manager, and the directory of a file the module
owns. A lock is released when its holder exits, however it exits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

WAIT = 300.0  # seconds: a run of the role on a slow host is well under this
POLL = 0.05


class HostLock:
    """`with HostLock(path, what):` runs the block holding an exclusive lock on `path`
    (shared=True: a shared one, for a check-mode run that only reads)."""

    def __init__(self, path, what, shared=False, wait=WAIT, clock=None, sleep=None):
        self.path = path
        self.what = what
        self.mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self.wait = wait
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._fd = None

    def __enter__(self):
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise MptcpError("cannot open %s to lock %s: %s" % (self.path, self.what, exc.strerror))
        deadline = self._clock() + self.wait
        while True:
            try:
                fcntl.flock(self._fd, self.mode | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    self._close()
                    raise MptcpError("cannot lock %s (%s): %s" % (self.what, self.path, exc.strerror))
            if self._clock() >= deadline:
                self._close()
                raise MptcpError(
                    "another run has been changing %s for %d s (it holds the lock on %s); "
                    "nothing was changed by this one" % (self.what, self.wait, self.path))
            self._sleep(POLL)

    def _close(self):
        if self._fd is not None:
            os.close(self._fd)  # releases the lock too
            self._fd = None

    def __exit__(self, exc_type, exc_value, traceback):
        self._close()
        return False
