# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcpd, the other path manager daemon: whether it runs in this network namespace (or
starts at boot), which plugins it loads and whether one of them writes the in-kernel path
manager's endpoints or limits.

Read from mptcpd's sources (multipath-tcp/mptcpd): its options come from
/etc/mptcpd/mptcpd.conf (`[core]`: `plugin-dir`, `path-manager`, `load-plugins`,
`addr-flags`), and the command line (`--load-plugins=`, `--plugin-dir=` ...) wins over the
file. Without `load-plugins` every plugin of the plugin directory is loaded. Of the
plugins it ships, `addr_adv` adds an endpoint (with `addr-flags`) for every local address
and sets the limits (subflows 2 when it starts, one more per address; add_addr_accepted
the same where `addr-flags` has subflow) through the kernel's path manager; `sspi` and
`ndiffports` act through the userspace path manager and leave endpoints and limits alone.
A plugin not known here is reported as unknown, not as harmless."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import configparser

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import read_text
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

CONFIG = "etc/mptcpd/mptcpd.conf"
# mptcpd's unit: mptcp.service upstream and in Debian's package (seen in Debian 12's
# mptcpd 0.12); mptcpd.service looked for too.
UNITS = ("mptcp.service", "mptcpd.service")
# Where unit files are (systemd.unit(5)): systemctl is asked only where one of UNITS is
# there, so a host without mptcpd costs no command.
UNIT_DIRS = ("etc/systemd/system", "run/systemd/system", "usr/local/lib/systemd/system", "usr/lib/systemd/system",
             "lib/systemd/system")
PROGRAM_NAME = "mptcpd"
# Where distributions put mptcpd's plugins (<pkglibdir>): Debian /usr/lib/<triplet>/mptcpd,
# Fedora and RHEL /usr/lib64/mptcpd. RHEL 9's mptcpd 0.8 keeps libmptcpwrap there too.
PLUGIN_DIR_PATTERNS = ("usr/lib/*/mptcpd", "usr/lib64/mptcpd", "usr/lib/mptcpd", "usr/local/lib/mptcpd")
# What each plugin mptcpd ships writes of the in-kernel path manager.
PLUGIN_WRITES = {
    "addr_adv": ["endpoints", "limits"],
    "sspi": [],
    "ndiffports": [],
}
OPTIONS = ("plugin-dir", "path-manager", "load-plugins", "addr-flags")


def split_list(text):
    """`addr_adv, sspi` -> ['addr_adv', 'sspi']."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_config(text):
    """The [core] options of mptcpd.conf that decide what it does: {option: text}."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text or "")
    except configparser.Error as exc:
        raise MptcpError("mptcpd.conf cannot be read as mptcpd reads it: %s" % exc)
    if not parser.has_section("core"):
        return {}
    return dict((option, parser.get("core", option).strip()) for option in OPTIONS
                if parser.has_option("core", option))


def parse_arguments(argv):
    """mptcpd's long options on its command line (`--load-plugins=a,b` or
    `--load-plugins a,b`): {option: text}."""
    found = {}
    args = list(argv or [])
    for index, arg in enumerate(args):
        match = re.match(r"^--([a-z-]+)(?:=(.*))?$", arg)
        if not match or match.group(1) not in OPTIONS:
            continue
        value = match.group(2)
        if value is None and index + 1 < len(args):
            value = args[index + 1]
        found[match.group(1)] = value or ""
    return found


def parse_exec_start(out):
    """`systemctl show -p ExecStart --value` -> the argv of its first command:
    `{ path=/usr/libexec/mptcpd ; argv[]=/usr/libexec/mptcpd --log=journal ; ... }`."""
    match = re.search(r"argv\[\]=([^;]*)", out or "")
    return match.group(1).split() if match else []


def plugin_names(directory):
    """The plugins of a plugin directory: its *.so files but the preload library."""
    names = []
    for path in sorted(glob.glob(os.path.join(directory, "*.so"))):
        name = os.path.basename(path)[:-len(".so")]
        if not name.startswith("libmptcpwrap"):
            names.append(name)
    return names


def find_plugin_dir(root):
    for pattern in PLUGIN_DIR_PATTERNS:
        for directory in sorted(glob.glob(os.path.join(root, pattern))):
            if plugin_names(directory):
                return "/" + os.path.relpath(directory, root)
    return None


def _same_netns(pid, root):
    """Whether process `pid` is in this network namespace: an mptcpd of another namespace
    manages that namespace's endpoints, not ours."""
    try:
        return os.readlink(os.path.join(root, "proc", pid, "ns", "net")) == \
            os.readlink(os.path.join(root, "proc", "self", "ns", "net"))
    except OSError:
        return False


def find_processes(root="/"):
    """[(pid, argv)] of the mptcpd processes of this network namespace."""
    found = []
    proc = os.path.join(root, "proc")
    if not os.path.isdir(proc):
        return found
    for pid in sorted(name for name in os.listdir(proc) if name.isdigit()):
        try:
            with open(os.path.join(proc, pid, "comm")) as handle:
                if handle.read().strip() != PROGRAM_NAME:
                    continue
            with open(os.path.join(proc, pid, "cmdline"), "rb") as handle:
                argv = [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
        except (IOError, OSError):  # gone meanwhile, or not ours to read
            continue
        if _same_netns(pid, root):
            found.append((int(pid), argv))
    return found


def parse_show(out):
    """`systemctl show -p LoadState,UnitFileState,ExecStart UNIT...` -> [{property: value}],
    a unit a block (blocks separated by an empty line)."""
    blocks = [{}]
    for line in (out or "").splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            blocks[-1][key] = value
    return [block for block in blocks if block]


def has_unit_file(root):
    return any(os.path.lexists(os.path.join(root, directory, unit)) for directory in UNIT_DIRS for unit in UNITS)


def _unit_state(run, systemctl, root):
    """(unit, enabled, argv of ExecStart) of the first mptcpd unit systemd has loaded;
    (None, None, []) without systemd or without a unit."""
    if not systemctl or not has_unit_file(root):
        return None, None, []
    rc, out, _err = run([systemctl, "show", "-p", "Id,LoadState,UnitFileState,ExecStart"] + list(UNITS))
    if rc != 0:
        return None, None, []
    for values in parse_show(out):
        if values.get("LoadState") == "loaded" and "mptcpd" in values.get("ExecStart", ""):
            enabled = values.get("UnitFileState") in ("enabled", "enabled-runtime", "linked", "linked-runtime")
            return values.get("Id"), enabled, parse_exec_start(values.get("ExecStart"))
    return None, None, []


def read_mptcpd(run, which, root="/"):
    """What mptcpd does on this host, or {'installed': False, ...} where it is not:
    running (pids of this namespace), enabled at boot, the options it acts on and where each
    came from, the plugins it loads and what they write."""
    config_path = os.path.join(root, CONFIG)
    config = parse_config(read_text(config_path)) if os.path.isfile(config_path) else {}
    processes = find_processes(root)
    unit, enabled, unit_argv = _unit_state(run, which("systemctl"), root)
    # A running mptcpd acts on its own command line; one that starts at boot, on its unit's.
    argv = processes[0][1] if processes else unit_argv
    options = dict(config, **parse_arguments(argv[1:]))
    plugin_dir = options.get("plugin-dir") or find_plugin_dir(root)
    if "load-plugins" in options:
        plugins = split_list(options["load-plugins"])
    else:
        plugins = plugin_names(os.path.join(root, plugin_dir.lstrip("/"))) if plugin_dir else []
    writes = sorted(set(what for name in plugins for what in PLUGIN_WRITES.get(name, [])))
    installed = bool(processes or unit or os.path.isfile(config_path) or plugin_dir)
    return {
        "installed": installed,
        "unit": unit,
        "running": bool(processes),
        "pids": [pid for pid, _argv in processes],
        "enabled": bool(enabled),
        "config": "/" + CONFIG if os.path.isfile(config_path) else None,
        "plugin_dir": plugin_dir,
        "path_manager": options.get("path-manager") or None,
        "plugins": plugins,
        "unknown_plugins": [name for name in plugins if name not in PLUGIN_WRITES],
        "addr_flags": split_list(options.get("addr-flags")),
        "writes": writes,
    }


def describe(mptcpd):
    """'mptcpd (mptcp.service running, plugins addr_adv, sspi; config /etc/mptcpd/mptcpd.conf)'."""
    how = "running" if mptcpd["running"] else "enabled at boot"
    if mptcpd.get("unit"):
        how = "%s %s" % (mptcpd["unit"], how)
    text = "mptcpd (%s, plugins %s" % (how, ", ".join(mptcpd["plugins"]) or "none")
    if mptcpd["config"]:
        text += "; config %s" % mptcpd["config"]
    return text + ")"
