# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces (the ones `ip netns` manages): find one, never create one,
and run a block of code inside it.

The path manager, `net.mptcp.*` and `/proc/net/netstat` all belong to a namespace. A
netlink socket stays bound to the namespace it was opened in, and `/proc/self/net` shows
the namespace of the thread reading it, so entering the namespace for a short block and
leaving it again is enough; no child process is needed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import os

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError

# Where iproute2 keeps the bind mounts of named namespaces (NETNS_RUN_DIR is
# /var/run/netns, normally a link to /run/netns).
NETNS_RUN_DIRS = ("/run/netns", "/var/run/netns")
CLONE_NEWNET = 0x40000000


def validate_netns_name(name):
    """The rules `ip netns` applies to a name, so that a bad one fails before anything."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValidationError(
            "netns %r is not a valid namespace name: it must be non-empty, not '.' or '..', "
            "and contain no '/'" % (name,))


def netns_path(name):
    """The bind mount of namespace `name`; fails clearly when it does not exist (the
    modules never create a namespace: a typo must not become a new empty one)."""
    validate_netns_name(name)
    for directory in NETNS_RUN_DIRS:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise ValidationError(
        "netns %r does not exist (no %s): create it first (ip netns add %s); this module "
        "never creates a namespace" % (name, os.path.join(NETNS_RUN_DIRS[0], name), name))


_LIBC = []


def _setns(fd):
    setns = getattr(os, "setns", None)  # Python >= 3.12
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    if not _LIBC:
        # The process's own symbols include the C library's setns(); no lookup needed
        # (ctypes.util.find_library would start a subprocess).
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    if _LIBC[0].setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class NetnsContext:
    """`with NetnsContext(name):` runs the block inside namespace `name` (None: stay where
    the process is) and always returns to the original namespace afterwards."""

    def __init__(self, name, path=None):
        """path: the namespace's bind mount where the caller resolved it already."""
        self.name = name
        self._path = path or (netns_path(name) if name else None)
        self._original = None

    def __enter__(self):
        if self._path is None:
            return self
        self._original = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(self._path, os.O_RDONLY)
        try:
            _setns(target)
        except OSError as exc:
            os.close(self._original)
            self._original = None
            hint = " (entering a namespace needs CAP_SYS_ADMIN: become root)" if exc.errno == errno.EPERM else ""
            raise MptcpError("cannot enter netns %r: %s%s" % (self.name, exc.strerror, hint))
        finally:
            os.close(target)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self._original is None:
            return False
        try:
            _setns(self._original)
        finally:
            os.close(self._original)
            self._original = None
        return False
