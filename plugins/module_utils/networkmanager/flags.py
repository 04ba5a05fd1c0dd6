# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkManager's `connection.mptcp-flags`: names and bits, reading the property in
every form NetworkManager prints it, and the rules a flag set must follow.

A flag set is a frozenset of names; the empty set is the value 0, "NetworkManager's
default". Lists shown to people are in bit order, the order nmcli prints them in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError

# NMMptcpFlags (libnm-core-public/nm-dbus-interface.h), in bit order.
FLAG_BITS = (
    ("disabled", 0x1),
    ("enabled", 0x2),
    ("also-without-sysctl", 0x4),
    ("also-without-default-route", 0x8),
    ("signal", 0x10),
    ("subflow", 0x20),
    ("backup", 0x40),
    ("fullmesh", 0x80),
    ("laminar", 0x100),
)
FLAG_NAMES = tuple(name for name, _bit in FLAG_BITS)
# The flags NetworkManager copies onto the endpoints it creates (ip-mptcp(8) flags).
ENDPOINT_FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar")
# What a profile at 0 gets when NetworkManager.conf sets no default (NetworkManager's
# documentation of connection.mptcp-flags).
BUILTIN_DEFAULT = frozenset(("enabled", "subflow"))
# laminar came in NetworkManager 1.56 (its NEWS), which also puts it beside subflow on
# the endpoints of a profile at 0 (seen on 1.58.1: `subflow laminar`; its manual still
# says enabled,subflow). Older ones refuse the bit: "not a valid combination".
LAMINAR_VERSION = (1, 56)
LAMINAR_DEFAULT = BUILTIN_DEFAULT | frozenset(("laminar",))
# Words nmcli prints or accepts for the value 0.
ZERO_WORDS = ("default", "none")
MIN_VERSION = (1, 40)

_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]+|[0-9]+)(?:\s*\((.*)\))?$")


def bits_of(flags):
    table = dict(FLAG_BITS)
    bits = 0
    for name in flags:
        if name not in table:
            raise MptcpError("unknown connection.mptcp-flags name %r" % (name,))
        bits |= table[name]
    return bits


def flags_of(bits, source=None):
    """The names of `bits`. A bit no name is known for (a newer NetworkManager's) is an
    error rather than silently dropped, since writing the set back would clear it."""
    flags = set()
    for name, bit in FLAG_BITS:
        if bits & bit:
            flags.add(name)
            bits &= ~bit
    if bits:
        raise MptcpError("connection.mptcp-flags %s has bits this module does not know: 0x%x"
                         % (source or "value", bits))
    return frozenset(flags)


def ordered(flags):
    """A flag set as a list in bit order (the order nmcli prints)."""
    return [name for name in FLAG_NAMES if name in flags]


def nm_value(flags):
    """The value given to `nmcli connection modify`: a number, which every version takes."""
    return "0x%x" % bits_of(flags)


def _split_names(text):
    return [word for word in re.split(r"[\s,|]+", text.strip()) if word]


def parse_flags(text):
    """`connection.mptcp-flags` as nmcli prints it -> a flag set.

    Seen on NM 1.42 and 1.52: `0x38` (nmcli -g and -t), `0x30 (signal, subflow)` and
    `0x0 (default)` (nmcli without -t). Also read: a plain decimal number and a list of
    names (`signal,subflow`, how NetworkManager.conf may give it). With both a number and
    names, the number is the value and the names must agree with it."""
    value = text.strip()
    if value == "" or value.lower() in ZERO_WORDS:
        return frozenset()
    match = _NUMBER.match(value)
    if match:
        flags = flags_of(int(match.group(1), 0), source=repr(value))
        shown = match.group(2)
        if shown is not None:
            names = set(_split_names(shown)) - set(ZERO_WORDS)
            if names != flags:
                raise MptcpError("cannot read connection.mptcp-flags %r: the names do not "
                                 "match the number" % value)
        return flags
    names = _split_names(value)
    unknown = [name for name in names if name not in FLAG_NAMES and name not in ZERO_WORDS]
    if unknown:
        raise MptcpError("cannot read connection.mptcp-flags %r: unknown %s"
                         % (value, ", ".join(unknown)))
    return frozenset(name for name in names if name in FLAG_NAMES)


def validate_flags(flags, label):
    """A requested list of names -> a flag set, or ValidationError naming the bad value.

    The rules are NetworkManager's own (it refuses the same values, but only once the
    first profile is being written)."""
    if not isinstance(flags, (list, tuple)):
        raise ValidationError("%s: flags must be a list of names, got %r" % (label, flags))
    for name in flags:
        if name not in FLAG_NAMES:
            raise ValidationError(
                "%s: unknown flag %r; the flags are %s (an empty list means "
                "NetworkManager's default)" % (label, name, ", ".join(FLAG_NAMES)))
    wanted = frozenset(flags)
    if "disabled" in wanted and len(wanted) > 1:
        raise ValidationError(
            "%s: 'disabled' cannot be combined with other flags (got %s)"
            % (label, ", ".join(ordered(wanted))))
    if "signal" in wanted and "fullmesh" in wanted:
        raise ValidationError(
            "%s: 'signal' and 'fullmesh' cannot be set together (the kernel refuses a "
            "fullmesh endpoint that is also a signal endpoint)" % label)
    return wanted


def builtin_default(version):
    """What a profile at 0 gets from a NetworkManager of `version` (a tuple, None when
    unknown) whose NetworkManager.conf sets no default."""
    return LAMINAR_DEFAULT if version and version[:2] >= LAMINAR_VERSION else BUILTIN_DEFAULT


def check_laminar(flags, version, label):
    """laminar asked of a NetworkManager older than 1.56: the ValidationError that says
    so, before anything is written (nmcli would refuse the value only then)."""
    if "laminar" in flags and version[:2] < LAMINAR_VERSION:
        raise ValidationError(
            "%s: flag 'laminar' needs NetworkManager %s or later; this host's is %s "
            "(set laminar endpoints with mptcp.linux.mptcp_endpoint instead)"
            % (label, ".".join(str(part) for part in LAMINAR_VERSION),
               ".".join(str(part) for part in version)))


def effective(flags, default=None, version=None):
    """What NetworkManager acts on: a profile at 0 takes the NetworkManager.conf default
    (`default`, a flag set or None when it sets none), else the built-in one of its
    `version`; any other flag but disabled implies enabled."""
    if not flags:
        flags = default if default else builtin_default(version)
    if "disabled" in flags:
        return frozenset(("disabled",))
    return frozenset(flags) | frozenset(("enabled",))


def endpoint_flags(effective_flags):
    """The ip-mptcp flags of the endpoints NetworkManager makes for these flags, or None
    when it makes none (disabled)."""
    if "disabled" in effective_flags:
        return None
    return [name for name in ENDPOINT_FLAGS if name in effective_flags]


def parse_version(text):
    """`1.42.4`, `1.52.1-1.fc42`, `nmcli tool, version 1.42.4` -> (1, 42, 4)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        raise MptcpError("cannot read a NetworkManager version from %r" % (text,))
    return tuple(int(part or 0) for part in match.groups())


def check_version(version, what):
    if version[:2] < MIN_VERSION:
        raise MptcpError(
            "%s is %s; connection.mptcp-flags needs NetworkManager %s or later"
            % (what, ".".join(str(part) for part in version),
               ".".join(str(part) for part in MIN_VERSION)))
