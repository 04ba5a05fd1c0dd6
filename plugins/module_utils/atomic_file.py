# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the modules own (the sysctl file, systemd units and drop-ins), read and written
atomically: staged in a hidden temporary file next to the target, flushed, root-owned
0644, then moved into place, so no partial file is ever left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

FILE_MODE = 0o644


def read_text(path):
    """The file's text, or None when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as error:
        if not os.path.lexists(path):
            return None
        raise MptcpError("cannot read %s: %s" % (path, error))


def _fail_write(path, error):
    return MptcpError(
        "cannot write %s: %s (is %s read-only or full?); the file was left as it was"
        % (path, os.strerror(error.errno) if error.errno else error, os.path.dirname(path)))


def stage(path, text):
    """Write `text` to a hidden temporary file next to `path` (so the final rename is
    atomic), root-owned 0644, flushed to disk. Returns the temporary file's path; on a
    failure removes it and raises: no partial file is ever left."""
    directory, name = os.path.split(path)
    temp = None
    try:
        # No .conf suffix: systemd-sysctl must never read a left-over temporary file.
        fd, temp = tempfile.mkstemp(dir=directory, prefix="." + name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        _set_owner_and_mode(temp)
    except (IOError, OSError) as error:
        discard(temp)
        raise _fail_write(path, error)
    return temp


def _set_owner_and_mode(path):
    os.chmod(path, FILE_MODE)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)


def discard(temp):
    if temp is not None and os.path.lexists(temp):
        os.unlink(temp)


def commit(host, temp, path):
    """Move the staged file into place (host: an AnsibleModule or a ModuleHost, anything
    with atomic_move). atomic_move keeps an existing file's mode and
    owner, so set ours again afterwards."""
    host.atomic_move(temp, path)
    try:
        _set_owner_and_mode(path)
    except (IOError, OSError) as error:
        raise MptcpError("wrote %s but cannot make it root-owned 0644: %s" % (path, error))


def remove(path):
    try:
        os.unlink(path)
    except (IOError, OSError) as error:
        raise MptcpError("cannot remove %s: %s" % (path, os.strerror(error.errno)))
