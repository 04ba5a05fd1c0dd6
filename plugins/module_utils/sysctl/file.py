# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sysctl files: the line syntax systemd-sysctl reads, and the one file the module owns
(a header line, then one `key = value` per line, keys sorted), written atomically."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import (
    PREFIX,
    full_name,
    parse_found_value,
)

HEADER = "# Managed by Ansible (mptcp.linux.mptcp_sysctl): edits here are overwritten."
_SEPARATOR = re.compile(r"[./]")


def normalise_key(key):
    """A sysctl name in its dotted form. As systemd-sysctl does: when the first separator
    is a slash, slashes and dots swap (net/mptcp/enabled is net.mptcp.enabled)."""
    key = key.strip()
    first = _SEPARATOR.search(key)
    if first and first.group() == "/":
        key = key.translate(str.maketrans("./", "/."))
    return key


def is_glob(key):
    return any(char in key for char in "*?[")


class Assignment:
    """One line of a sysctl file. value is None for systemd's `-key` line, which keeps a
    key out of glob assignments."""

    def __init__(self, key, value, lineno):
        self.key = key
        self.value = value
        self.lineno = lineno

    def is_glob(self):
        return is_glob(self.key)


def parse_assignments(text, malformed=None):
    """The assignments of a sysctl file, in order; comments, blank and malformed lines
    (which systemd-sysctl skips too) are left out. malformed: a list that gets
    (line number, line) of each malformed one."""
    result = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        excluded = line.startswith("-")
        if excluded:
            line = line[1:]
        if "=" in line:
            key, value = line.split("=", 1)
            result.append(Assignment(normalise_key(key), value.strip(), lineno))
        elif excluded and line.strip():
            result.append(Assignment(normalise_key(line), None, lineno))
        elif malformed is not None:
            malformed.append((lineno, line))
    return result


def check_path(path, root="/"):
    """The owned file must be a file we may own: absolute, in an existing directory, and
    not the distribution's /etc/sysctl.conf."""
    if not os.path.isabs(path):
        raise ValidationError("path=%s: must be an absolute path" % path)
    if os.path.isdir(path):
        raise ValidationError("path=%s: is a directory; give a file like "
                              "/etc/sysctl.d/90-mptcp.conf" % path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValidationError("path=%s: the directory %s does not exist" % (path, directory))
    sysctl_conf = os.path.realpath(os.path.join(root, "etc/sysctl.conf"))
    if os.path.realpath(path) == sysctl_conf:
        raise ValidationError("path=%s: is /etc/sysctl.conf, which belongs to the "
                              "distribution; give a file of its own like "
                              "/etc/sysctl.d/90-mptcp.conf" % path)


class OwnedFile:
    """The module's own file: its text (None when absent) and its assignments, last one
    winning, keyed by dotted name."""

    def __init__(self, path, text):
        self.path = path
        self.text = text
        self.entries = {}
        self.malformed = []
        for assignment in parse_assignments(text or "", self.malformed):
            if assignment.value is not None:
                self.entries[assignment.key] = assignment.value

    def check_ours(self):
        """The file is rewritten whole, keeping its assignments only: refuse one that
        holds anything else (someone else's file given as path by mistake), which would
        be lost."""
        if self.malformed:
            lineno, line = self.malformed[0]
            raise ValidationError(
                "path=%s holds lines that are not sysctl settings (line %d: %r%s); the module "
                "rewrites its file whole, so they would be lost: give it a file of its own"
                % (self.path, lineno, line, " and %d more" % (len(self.malformed) - 1) if len(self.malformed) > 1 else ""))

    def managed_values(self, entries=None):
        """{short name: normalised value} of the keys the module manages: net.mptcp by
        short name, the interfaces' rp_filter in full."""
        entries = self.entries if entries is None else entries
        values = {}
        for key, value in entries.items():
            if is_glob(key):
                continue
            if key.startswith(PREFIX):
                values[key[len(PREFIX):]] = parse_found_value(key[len(PREFIX):], value)
            elif rp_filter.is_rp_filter_key(key):
                values[key] = parse_found_value(key, value)
        return values

    def entries_after(self, state, wanted):
        """The entries once `wanted` ({short name: value}) is applied: set for present,
        dropped for absent. Keys of other subsystems someone put here are kept."""
        entries = dict(self.entries)
        for short, value in wanted.items():
            if state == "present":
                entries[full_name(short)] = str(value)
            else:
                entries.pop(full_name(short), None)
        return entries


def render(entries):
    """The owned file's text, or None when no entry is left (the file is then removed)."""
    if not entries:
        return None
    lines = [HEADER] + ["%s = %s" % (key, entries[key]) for key in sorted(entries)]
    return "\n".join(lines) + "\n"
