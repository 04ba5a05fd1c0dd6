# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_info's `managers`: who else sets what the collection sets. mptcpd (its plugins,
whether one writes endpoints or limits), NetworkManager (the endpoints it sets for its
profiles' addresses) and the sysctl files (which file sets each net.mptcp key at boot, in
systemd-sysctl's order, precedence.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import read_text
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.info.mptcpd import read_mptcpd
from ansible_collections.mptcp.linux.plugins.module_utils.info.nm_endpoints import (
    nm_endpoints,
    read_addresses,
    read_default_routes,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import parse_assignments
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import parse_found_value
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.precedence import BootValues, boot_files

MPTCP_PREFIX = "net.mptcp."


def _host_path(path, root):
    return "/" + os.path.relpath(path, root) if root != "/" else path


def boot_sysctl(root="/", known=()):
    """{short key: {value, file, files}} for each net.mptcp key a boot file sets: `file`
    wins at boot (systemd-sysctl's order), `files` is every file that sets it, in the order
    they are applied ({file, value}). `known`: the keys the kernel has, for the globs."""
    files = boot_files(root)
    values = BootValues(files)
    keys = set(key for key in values.explicit if key.startswith(MPTCP_PREFIX))
    keys.update(MPTCP_PREFIX + short for short in known)
    setters = {}
    for path in files:
        try:
            text = read_text(path) or ""
        except MptcpError:
            continue
        for assignment in parse_assignments(text):
            if not assignment.is_glob() and assignment.key in keys and assignment.value is not None:
                setters.setdefault(assignment.key, []).append(
                    {"file": _host_path(path, root), "value": assignment.value})
    result = {}
    for key in sorted(keys):
        text, path = values.winner(key)
        if path is None:
            continue
        short = key[len(MPTCP_PREFIX):]
        result[short] = {
            "value": parse_found_value(short, text), "file": _host_path(path, root),
            # A glob (net.mptcp.*) sets the key without naming it: the winner is then its only setter.
            "files": [dict(entry, value=parse_found_value(short, entry["value"])) for entry in setters.get(key, [])]
            or [{"file": _host_path(path, root), "value": parse_found_value(short, text)}]}
    return result


def networkmanager(run, which, read_profiles, mptcp_enabled, default_flags=None, version_of=lambda: None):
    """{running, endpoints}: the endpoints NetworkManager sets (nm_endpoints.py); none
    where it is not installed, not running, or older than 1.40 (which makes no MPTCP
    endpoints: Debian 11's 1.30, RHEL 8.6's 1.36), `unread` then saying why."""
    if not which("nmcli"):
        return {"running": False, "endpoints": []}
    try:
        profiles = read_profiles()
    except MptcpError as error:
        return {"running": "is not running" not in "%s" % error, "endpoints": [], "unread": "%s" % error}
    ip = which("ip")
    if not ip:
        raise MptcpError("ip not found (iproute2): the addresses NetworkManager manages cannot be read")
    active = [profile for profile in profiles if profile.get("devices")]
    if not active:
        return {"running": True, "endpoints": []}
    return {"running": True, "endpoints": nm_endpoints(
        active, read_addresses(run, ip), read_default_routes(run, ip), mptcp_enabled, default_flags, version_of())}


def read_managers(run, which, read_profiles, mptcp_enabled, root="/", known=(), default_flags=None, nm_version_of=lambda: None):
    """nm_version_of() gives NetworkManager's version once read_profiles() has run (None: unknown)."""
    return {
        "mptcpd": read_mptcpd(run, which, root),
        "networkmanager": networkmanager(run, which, read_profiles, mptcp_enabled, default_flags, nm_version_of),
        "sysctl_boot": boot_sysctl(root, known),
    }
