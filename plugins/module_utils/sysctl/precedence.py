# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which file sets a key at boot, as systemd-sysctl decides it.

The *.conf files of the sysctl.d directories are read sorted by file name, the later one
winning; a file name in an earlier directory hides the same name in the later ones (which
is how /etc masks /usr/lib). An explicit key beats a glob such as net.mptcp.* wherever it
is, and `-key` keeps a key out of globs. procps' `sysctl --system` reads /etc/sysctl.conf
after all of them; systemd reads it only through the 99-sysctl.conf link distributions
ship, so it counts last unless a sysctl.d entry already is that file.

`root` is the filesystem root (a tmp_path in unit tests); `planned` maps a path to the
text it will have (None: it will not exist), so conflicts are judged on the result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import read_text
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import parse_assignments
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import (
    full_name,
    parse_found_value,
)

SYSCTL_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d",
               "lib/sysctl.d")
SYSCTL_CONF = "etc/sysctl.conf"


def _directories(root):
    """The sysctl.d directories, without the ones that are another by a link (/lib is
    /usr/lib on merged-/usr systems)."""
    seen = set()
    result = []
    for relative in SYSCTL_DIRS:
        directory = os.path.join(root, relative)
        real = os.path.realpath(directory)
        if real not in seen:
            seen.add(real)
            result.append(directory)
    return result


def _resolved(planned):
    return dict((os.path.realpath(path), text) for path, text in (planned or {}).items())


def _will_exist(path, planned):
    real = os.path.realpath(path)
    if real in planned:
        return planned[real] is not None
    return os.path.isfile(path)


def boot_files(root="/", planned=None):
    """The files systemd-sysctl reads at boot, in the order it applies them."""
    planned = _resolved(planned)
    by_name = {}
    for directory in _directories(root):
        real_directory = os.path.realpath(directory)
        names = set(os.listdir(directory)) if os.path.isdir(directory) else set()
        names.update(os.path.basename(path) for path in planned
                     if os.path.dirname(path) == real_directory)
        for name in names:
            path = os.path.join(directory, name)
            # The first directory holding a name wins, even when that entry is a
            # /dev/null link (a mask) or empty.
            if name.endswith(".conf") and name not in by_name and (
                    _will_exist(path, planned) or os.path.islink(path)):
                by_name[name] = path
    files = [by_name[name] for name in sorted(by_name)]
    sysctl_conf = os.path.join(root, SYSCTL_CONF)
    if _will_exist(sysctl_conf, planned) and os.path.realpath(sysctl_conf) not in set(
            os.path.realpath(path) for path in files):
        files.append(sysctl_conf)
    return files


def _text(path, planned):
    real = os.path.realpath(path)
    if real in planned:
        return planned[real] or ""
    try:
        return read_text(path) or ""
    except MptcpError:  # an unreadable file sets nothing we can know of
        return ""


def _glob_matches(pattern, key):
    """A glob as systemd applies it to /proc/sys paths: `*` stays within one level."""
    pattern_parts, key_parts = pattern.split("."), key.split(".")
    return len(pattern_parts) == len(key_parts) and all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(key_parts, pattern_parts))


class BootValues:
    """What the boot files set, read once: explicit keys (later file wins) and globs."""

    def __init__(self, files, planned=None):
        planned = _resolved(planned)
        self.explicit = {}
        self.globs = []
        for path in files:
            for assignment in parse_assignments(_text(path, planned)):
                if assignment.is_glob():
                    if assignment.value is not None:
                        self.globs.append((assignment.key, assignment.value, path))
                else:
                    self.explicit[assignment.key] = (assignment.value, path)

    def winner(self, key):
        """(value, file) that sets `key` at boot, or (None, None)."""
        if key in self.explicit:
            value, path = self.explicit[key]
            return (value, path) if value is not None else (None, None)
        for pattern, value, path in reversed(self.globs):
            if _glob_matches(pattern, key):
                return value, path
        return None, None


def find_conflicts(wanted, root="/", planned=None, owned_path=None):
    """The keys of `wanted` ({short name: value}) that another file sets to a different
    value at boot, and wins: [{key, file, value, wanted}]. With owned_path None (nothing
    persisted) any file that sets another value counts."""
    values = BootValues(boot_files(root, planned), planned)
    owned = os.path.realpath(owned_path) if owned_path else None
    conflicts = []
    for short in sorted(wanted):
        if wanted[short] is None:
            continue
        text, path = values.winner(full_name(short))
        if path is None or os.path.realpath(path) == owned:
            continue
        found = parse_found_value(short, text)
        if found != wanted[short]:
            conflicts.append({"key": full_name(short), "file": path, "value": found,
                              "wanted": wanted[short]})
    return conflicts


def describe_conflict(conflict, owned_path=None):
    text = "%s: %s sets %s and wins at boot" % (
        conflict["key"], conflict["file"], conflict["value"])
    if owned_path:
        text += " over %s" % owned_path
    return text + ", so after a reboot it will be %s, not %s" % (
        conflict["value"], conflict["wanted"])


def not_read_at_boot(path, root="/", planned=None):
    """Why the owned file would not be read at boot, or None when it is."""
    files = boot_files(root, planned)
    if os.path.realpath(path) in set(os.path.realpath(name) for name in files):
        return None
    name = os.path.basename(path)
    masking = [other for other in files if os.path.basename(other) == name]
    if masking and os.path.realpath(os.path.dirname(path)) in set(
            os.path.realpath(directory) for directory in _directories(root)):
        return "%s hides it: a file of the same name in an earlier sysctl.d directory" \
            % masking[0]
    return ("systemd-sysctl reads only *.conf files in %s"
            % ", ".join("/" + relative for relative in SYSCTL_DIRS[:4]))
