# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to NetworkManager: nmcli with argument lists (never a shell), terse output
with its escaping undone, and what nmcli cannot tell (the connection
a device runs now, NetworkManager.conf's default) from busctl and `NetworkManager
--print-config`.

Every command goes through `run(argv) -> (rc, stdout, stderr)` (command.py's
command_runner in the module: the best parseable locale, which must be a UTF-8 one where
there is one, since in plain C nmcli prints each non-ASCII character of a profile name as
'?', seen on NM 1.42 and 1.52), so the parsing is tested on output recorded from the
lab's NetworkManager 1.42 and 1.52."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import (
    check_version,
    nm_value,
    parse_flags,
    parse_version,
)

NM_SERVICE = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
# nmcli's exit status when the daemon is not running (nmcli(1), EXIT STATUS).
NMCLI_NOT_RUNNING = 8
PROFILE_FIELDS = ("NAME", "UUID", "TYPE", "DEVICE", "ACTIVE")


def split_terse(line):
    """One line of `nmcli -t` -> its fields. nmcli escapes ':' and '\\' in values with a
    backslash (a profile named `a: b` prints as `a\\: b`)."""
    fields = [""]
    escaped = False
    for char in line:
        if escaped:
            fields[-1] += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("")
        else:
            fields[-1] += char
    return fields


def parse_status(rc, out, err):
    """`nmcli -t -f RUNNING,VERSION general` -> the daemon's version tuple."""
    text = (out or "").strip()
    if rc == NMCLI_NOT_RUNNING or "not running" in (err or ""):
        raise MptcpError(
            "NetworkManager is not running (nmcli said: %s); start it (systemctl start "
            "NetworkManager) or manage this host's profiles another way"
            % ((err or out or "").strip() or "exit status %d" % rc))
    if rc != 0:
        raise MptcpError("cannot ask NetworkManager for its state: nmcli exited %d: %s"
                         % (rc, (err or out).strip()))
    fields = split_terse(text.splitlines()[0] if text else "")
    if len(fields) < 2:
        raise MptcpError("cannot read `nmcli -t -f RUNNING,VERSION general` output %r" % text)
    return parse_version(fields[1])


def parse_profiles(out):
    """`nmcli -t -f NAME,UUID,TYPE,DEVICE,ACTIVE connection show` -> profiles, in nmcli's
    order: dicts with name, uuid, type and devices (where the profile is active)."""
    profiles = []
    by_uuid = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        fields = split_terse(line)
        if len(fields) != len(PROFILE_FIELDS):
            raise MptcpError("cannot read this line of `nmcli connection show`: %r" % line)
        name, uuid, kind, device, active = fields
        profile = by_uuid.get(uuid)
        if profile is None:
            profile = dict(name=name, uuid=uuid, type=kind, devices=[])
            by_uuid[uuid] = profile
            profiles.append(profile)
        if active == "yes" and device and device not in profile["devices"]:
            profile["devices"].append(device)
    return profiles


def parse_flags_of(out, uuids):
    """The output of read_flags_of -> {uuid: flag set}; every uuid asked for must be there."""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    found = dict((uuid, parse_flags(flags)) for uuid, flags in zip(lines[0::2], lines[1::2]))
    if len(lines) % 2 or sorted(found) != sorted(set(uuids)):
        raise MptcpError("cannot read connection.mptcp-flags of %s from nmcli's output %r"
                         % (", ".join(uuids), out[:300]))
    return found


def _quoted(name):
    return json.dumps(name, ensure_ascii=False)


def find_profile(profiles, wanted):
    """The profile named `wanted`, or with that UUID. Fails with the list of the
    profiles that exist, or, for a name several profiles share, with their UUIDs."""
    for profile in profiles:
        if profile["uuid"].lower() == wanted.lower():
            return profile
    named = [profile for profile in profiles if profile["name"] == wanted]
    if len(named) == 1:
        return named[0]
    if named:
        raise ValidationError(
            "profile name %s is ambiguous: %d profiles have it (UUIDs %s); give the UUID"
            % (_quoted(wanted), len(named), ", ".join(p["uuid"] for p in named)))
    raise ValidationError(
        "profile %s not found; the profiles are: %s" % (
            _quoted(wanted),
            ", ".join(_quoted(p["name"]) for p in profiles) or "(none)"))


def parse_device_path(out):
    """`busctl call ... GetDeviceByIpIface s eth1` -> `o "/org/.../Devices/3"`."""
    match = re.match(r'^o "([^"]+)"\s*$', (out or "").strip())
    return match.group(1) if match else None


def parse_applied_flags(out):
    """`busctl call ... GetAppliedConnection u 0` (busctl's text form, which every
    systemd prints, unlike --json) -> the applied connection's mptcp-flags as a flag set,
    or None when the output is not an applied connection.

    NetworkManager leaves a property at its default out of the dict, so no mptcp-flags
    key means 0. busctl prints a quote inside a string as \\", so a profile name cannot
    fake the key."""
    text = (out or "").strip()
    if not text.startswith("a{sa{sv}}t") or '"connection"' not in text:
        return None
    match = re.search(r'(?<![\\\w])"mptcp-flags" u (\d+)(?=\s)', text)
    if not match:
        return frozenset()
    return parse_flags(match.group(1))


def parse_print_config(out):
    """`NetworkManager --print-config` -> the NetworkManager.conf default for
    connection.mptcp-flags as a flag set, or None when it sets none.

    Only [connection*] sections without match-device count (those with one apply to some
    devices only). NetworkManager reads the sections in order, [connection] last; the
    first that sets the key wins."""
    sections = []
    current = None
    for raw in out.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.match(r"^\[(.+)\]$", line)
        if header:
            current = {"name": header.group(1), "keys": {}}
            sections.append(current)
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current["keys"][key.strip()] = value.strip()
    candidates = [s for s in sections if s["name"].startswith("connection")
                  and "match-device" not in s["keys"]]
    candidates.sort(key=lambda s: s["name"] == "connection")
    for section in candidates:
        if "connection.mptcp-flags" in section["keys"]:
            return parse_flags(section["keys"]["connection.mptcp-flags"])
    return None


class NmClient:
    """nmcli and friends. `nmcli` is the path of nmcli; `busctl` and `daemon` (the
    NetworkManager binary) may be None, and then what they tell is unknown (None)."""

    def __init__(self, run, nmcli, busctl=None, daemon=None):
        self._run = run
        self._nmcli = nmcli
        self._busctl = busctl
        self._daemon = daemon

    def _nmcli_call(self, args, what):
        argv = [self._nmcli] + list(args)
        rc, out, err = self._run(argv)
        if rc != 0:
            raise MptcpError("%s failed: nmcli %s exited %d: %s" % (
                what, " ".join(args), rc, (err or out or "").strip()))
        return out

    def check_ready(self):
        """NetworkManager is running, and it and nmcli are 1.40 or later. Returns the
        daemon's version."""
        version = parse_status(*self._run([self._nmcli, "-t", "-f", "RUNNING,VERSION", "general"]))
        check_version(version, "NetworkManager (the daemon)")
        client = parse_version(self._nmcli_call(["--version"], "asking nmcli its version"))
        check_version(client, "nmcli")
        return version

    def profiles(self):
        return parse_profiles(self._nmcli_call(
            ["-t", "-f", ",".join(PROFILE_FIELDS), "connection", "show"],
            "listing the NetworkManager profiles"))

    def read_flags_of(self, uuids):
        """{uuid: flag set} of several profiles in one nmcli call (each costs 8-9 ms of CPU
        on a lab host, nmcli's and NetworkManager's): `nmcli -g connection.uuid,connection.mptcp-flags connection show uuid A
        uuid B` prints, per profile, its uuid and its flags on two lines, the profiles
        separated by an empty line (NM 1.42 and 1.52)."""
        if not uuids:
            return {}
        args = ["-g", "connection.uuid,connection.mptcp-flags", "connection", "show"]
        for uuid in uuids:
            args += ["uuid", uuid]
        out = self._nmcli_call(args, "reading connection.mptcp-flags of profile%s %s"
                               % ("s" if len(uuids) > 1 else "", ", ".join(uuids)))
        return parse_flags_of(out, uuids)

    def write_flags(self, uuid, flags):
        self._nmcli_call(["connection", "modify", "uuid", uuid, "connection.mptcp-flags",
                          nm_value(flags)],
                         "setting connection.mptcp-flags of profile %s" % uuid)

    def reapply(self, device):
        self._nmcli_call(["device", "reapply", device],
                         "reapplying the profile of %s" % device)

    def reactivate(self, uuid, device):
        self._nmcli_call(["connection", "up", "uuid", uuid, "ifname", device],
                         "activating profile %s again on %s" % (uuid, device))

    def applied_flags(self, device):
        """The mptcp-flags of the connection `device` runs now (NetworkManager's applied
        connection), or None when that cannot be read (no busctl)."""
        if not self._busctl:
            return None
        rc, out, _err = self._run([self._busctl, "call", NM_SERVICE, NM_PATH, NM_SERVICE,
                                   "GetDeviceByIpIface", "s", device])
        path = parse_device_path(out) if rc == 0 else None
        if not path:
            return None
        rc, out, _err = self._run([self._busctl, "call", NM_SERVICE, path,
                                   NM_SERVICE + ".Device", "GetAppliedConnection", "u", "0"])
        return parse_applied_flags(out) if rc == 0 else None

    def default_flags(self):
        """NetworkManager.conf's default for profiles at 0, None when it sets none or
        cannot be read."""
        if not self._daemon:
            return None
        rc, out, _err = self._run([self._daemon, "--print-config"])
        return parse_print_config(out) if rc == 0 else None
