# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.mptcp.* at runtime: read /proc/sys/net/mptcp of the caller's network namespace and
write to it, all or nothing; the same for the interfaces' rp_filter keys asked for.

`root` is the filesystem root (a tmp_path in unit tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.proc_paths import MPTCP_SYSCTL_DIR, under_root
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import (
    full_name,
    parse_found_value,
    render_value,
)


def proc_dir(root="/"):
    return under_root(MPTCP_SYSCTL_DIR, root)


class RuntimeSnapshot:
    """What /proc/sys/net/mptcp held when read: values (short name -> stripped text) and
    which keys are writable by their mode (the available_* lists are not); with them the
    rp_filter keys asked for (in full) that exist, and the entries of net.ipv4.conf
    (`interfaces`, for the message about one that does not)."""

    def __init__(self, values, writable, interfaces=()):
        self.values = values
        self._writable = writable
        self.interfaces = list(interfaces)

    def writable(self):
        return sorted(self._writable)

    def choices(self, key):
        return self.values.get(key, "").split()

    def normalised(self, keys=None):
        """{short name: normalised value} of the writable keys (or of `keys`)."""
        names = self.writable() if keys is None else keys
        return dict((name, parse_found_value(name, self.values[name]))
                    for name in names if name in self.values)


def read_snapshot(root="/", interface_keys=()):
    """interface_keys: rp_filter keys (rp_filter.key_of) to read too, where they exist."""
    directory = proc_dir(root)
    if not os.path.isdir(directory):
        raise MptcpError(
            "%s does not exist: this kernel has no MPTCP (built without CONFIG_MPTCP), "
            "or /proc is not mounted" % directory)
    values = {}
    writable = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        try:
            mode = os.stat(path).st_mode
            with open(path) as handle:
                values[name] = handle.read().strip()
        except (IOError, OSError) as error:
            raise MptcpError("cannot read %s: %s" % (path, error))
        if stat.S_ISREG(mode) and mode & stat.S_IWUSR:
            writable.append(name)
    interfaces = ()
    if interface_keys:
        found = rp_filter.read_values(root)
        interfaces = sorted(found)
        for key in interface_keys:
            if rp_filter.iface_of(key) in found:
                values[key] = str(found[rp_filter.iface_of(key)])
                writable.append(key)
    return RuntimeSnapshot(values, writable, interfaces)


def proc_path(short, root="/"):
    if rp_filter.is_rp_filter_key(short):
        return rp_filter.proc_path(short, root)
    return os.path.join(proc_dir(root), short)


def _write(root, short, value):
    path = proc_path(short, root)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, (render_value(value) + "\n").encode("ascii"))
    finally:
        os.close(fd)


def _why(error):
    if error.errno == errno.EROFS:
        return ("/proc/sys is mounted read-only here, as in most containers: set the value "
                "on the host (or the container's runtime), or use runtime=false to only "
                "persist it")
    if error.errno in (errno.EACCES, errno.EPERM):
        return ("this process may not change it (it needs CAP_NET_ADMIN in the owner of the "
                "network namespace): become root, or use runtime=false to only persist it")
    if error.errno in (errno.EINVAL, errno.ENOENT):
        # ENOENT: a scheduler or path manager name the kernel does not have.
        return "the kernel refused the value"
    return "the write failed"


def apply_values(changes, snapshot, root="/"):
    """Write changes ([(short name, value)]) in order. On a failure, put back what was
    already written (from `snapshot`) and raise one MptcpError saying what and why."""
    done = []
    for short, value in changes:
        try:
            _write(root, short, value)
        except (IOError, OSError) as error:
            undo_failures = rollback(done, snapshot, root)
            message = "cannot set %s=%s at runtime: %s (%s)" % (
                full_name(short), render_value(value), os.strerror(error.errno), _why(error))
            if done:
                message += "; %s put back to %s" % (
                    ", ".join(full_name(name) for name in done),
                    "their previous values" if not undo_failures
                    else "their previous values except %s" % ", ".join(undo_failures))
            raise MptcpError(message)
        done.append(short)
    return done


def rollback(done, snapshot, root="/"):
    """Write back the snapshot's values of the keys in `done`, newest first; return the
    names that could not be restored."""
    failures = []
    for short in reversed(done):
        try:
            _write(root, short, snapshot.values[short])
        except (IOError, OSError):
            failures.append(full_name(short))
    return failures
