# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPTCP tools a host has: iproute2 (and whether it knows `ip mptcp`), pyroute2,
nmcli, mptcpize and the library it preloads, and systemd's version (257 and later take
`SocketProtocol=mptcp` in socket units). Each is looked for, never assumed: a host
without one gets None for it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import parse_usage
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_pyroute2 import pyroute2_version

# Where distributions put the mptcpize preload library: <libdir>/mptcpize/ (Debian,
# Ubuntu, Fedora, RHEL 10) or <libdir>/mptcpd/ (RHEL 9's mptcpd 0.8), <libdir> being
# /usr/lib64, /usr/lib or /usr/lib/<triplet>.
PRELOAD_PATTERNS = (
    "usr/lib*/mptcpize/libmptcpwrap.so.0*",
    "usr/lib/*/mptcpize/libmptcpwrap.so.0*",
    "usr/local/lib*/mptcpize/libmptcpwrap.so.0*",
    "usr/lib*/mptcpd/libmptcpwrap.so.0*",
    "usr/lib/*/mptcpd/libmptcpwrap.so.0*",
)


def parse_iproute2_version(text):
    """`ip utility, iproute2-6.1.0, libbpf 1.1.2` -> '6.1.0'; old releases print a
    snapshot date (`iproute2-ss200127`) -> 'ss200127'."""
    match = re.search(r"iproute2-([\w.]+)", text or "")
    return match.group(1) if match else None


def parse_nmcli_version(text):
    """`nmcli tool, version 1.42.4` -> '1.42.4'."""
    match = re.search(r"version\s+(\d[\w.-]*)", text or "")
    return match.group(1) if match else None


def parse_systemd_version(text):
    """`systemd 257 (257.13-1~deb13u1)` -> 257; None where the first line says otherwise."""
    match = re.match(r"systemd\s+(\d+)\b", text or "")
    return int(match.group(1)) if match else None


def find_preload_library(root="/"):
    """The newest libmptcpwrap.so.0* found, preferring the file over its symlinks, where
    it really is: a link to a file elsewhere gives that file's path (which the role then
    refuses to preload unless it is in a system library directory)."""
    for pattern in PRELOAD_PATTERNS:
        found = sorted(glob.glob(os.path.join(root, pattern)),
                       key=lambda path: (not os.path.islink(path), path), reverse=True)
        if found:
            return "/" + os.path.relpath(os.path.realpath(found[0]), os.path.realpath(root))
    return None


def read_tools(run, which, root="/"):
    """run(argv) -> (rc, out, err); which(name) -> path or None."""
    tools = {"iproute2": None, "pyroute2": pyroute2_version(), "nmcli": None, "mptcpize": None, "systemd": None}
    ip = which("ip")
    if ip:
        _rc, out, err = run([ip, "-V"])
        _rc, help_out, help_err = run([ip, "mptcp", "help"])
        tools["iproute2"] = {"path": ip, "version": parse_iproute2_version(out or err),
                             "ip_mptcp": parse_usage((help_err or "") + (help_out or "")) is not None}
    nmcli = which("nmcli")
    if nmcli:
        rc, out, _err = run([nmcli, "--version"])
        tools["nmcli"] = {"path": nmcli, "version": parse_nmcli_version(out) if rc == 0 else None}
    systemctl = which("systemctl")
    if systemctl:
        rc, out, _err = run([systemctl, "--version"])
        tools["systemd"] = {"path": systemctl, "version": parse_systemd_version(out) if rc == 0 else None}
    mptcpize = which("mptcpize")
    preload = find_preload_library(root)
    if mptcpize or preload:
        tools["mptcpize"] = {"path": mptcpize, "preload": preload}
    return tools
