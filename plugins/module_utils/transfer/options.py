# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transfer's inputs: the module's parameters checked and normalised into a spec, before
anything on the host is touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.link_failover import validate_interface
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import PROTOCOLS

MAX_SIZE = 1 << 30
MAX_TIMEOUT = 3600
MAX_CONNECTIONS = 64
DEFAULT_SIZE = 16 << 20
DEFAULT_TIMEOUT = 60
DEFAULT_FAIL_FRACTION = 0.3
REJOIN_AWAY = ("address", "link", "networkmanager")
DEFAULT_REJOIN_HOLD = 30
DEFAULT_REJOIN_WAIT = 10
MAX_REJOIN_SECONDS = 300
SERVER_ONLY = ("connections",)
CLIENT_ONLY = ("size", "seed", "bind_address", "fail_interface", "fail_after_bytes", "fail_after_fraction",
               "rejoin_away", "rejoin_hold", "rejoin_wait")
REJOIN_ONLY = ("rejoin_hold", "rejoin_wait")
_SIZE = re.compile(r"^\s*(\d+)\s*(?:([kmg])(?:i?b)?)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(value):
    """A byte count: an integer, or a string like `64M`, `64MiB`, `1G` (K, M, G and their
    KiB/KB forms are all powers of 1024)."""
    if isinstance(value, bool):
        raise ValidationError("size %r is not a byte count" % (value,))
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValidationError("size %r is not a byte count (an integer, or a number with K, M or G)"
                                  % (value,))
        size = int(match.group(1)) * _UNITS[match.group(2).lower() if match.group(2) else None]
    if not 1 <= size <= MAX_SIZE:
        raise ValidationError("size %r is out of range: from 1 byte to %d (1 GiB)" % (value, MAX_SIZE))
    return size


def _ip_literal(name, value):
    try:
        return ipaddress.ip_address(u"%s" % value)
    except ValueError:
        raise ValidationError("%s %r is not an IPv4 or IPv6 address" % (name, value))


def _in_range(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError("%s %r is out of range: an integer from %d to %d" % (name, value, low, high))
    return value


def validate(params, sys_class_net=None):
    """The module's parameters -> a normalised spec, or ValidationError naming the first
    bad value. Nothing on the host is touched (a client's address may be a host name; it
    is resolved when connecting)."""
    role = params.get("role")
    if role not in ("server", "client", "probe"):
        raise ValidationError("role %r is not one of: server, client, probe" % (role,))
    protocol = params.get("protocol") or "mptcp"
    if protocol not in PROTOCOLS:
        raise ValidationError("protocol %r is not one of: mptcp, tcp" % (protocol,))
    not_for_role = {"server": CLIENT_ONLY, "client": SERVER_ONLY, "probe": CLIENT_ONLY + SERVER_ONLY}[role]
    wrong = [name for name in not_for_role if params.get(name) is not None]
    if wrong:
        raise ValidationError("%s: not for role=%s" % (", ".join(wrong), role))
    if role == "probe" and protocol != "mptcp":
        raise ValidationError("protocol %r: a probe asks whether a service answers in MPTCP, so it needs protocol=mptcp"
                              % (protocol,))
    spec = {
        "role": role,
        "protocol": protocol,
        "port": _in_range("port", params.get("port"), 1, 65535),
        "timeout": _in_range("timeout", params.get("timeout", DEFAULT_TIMEOUT), 1, MAX_TIMEOUT),
        "events": bool(params.get("events", True)),
    }
    address = params.get("address")
    if role == "server":
        spec["address"] = str(_ip_literal("address", address or "0.0.0.0"))
        spec["connections"] = _in_range("connections", params.get("connections") or 1, 1, MAX_CONNECTIONS)
        return spec
    if not address or not isinstance(address, str) or len(address) > 253 or any(c.isspace() for c in address):
        raise ValidationError("address %r is not a host name or an IP address to connect to" % (address,))
    spec["address"] = address
    if role == "probe":
        spec["bind_address"] = None
        return spec
    spec["size"] = parse_size(params.get("size") if params.get("size") is not None else DEFAULT_SIZE)
    spec["seed"] = _in_range("seed", params.get("seed") or 0, 0, 0xFFFFFFFF)
    bind_address = params.get("bind_address")
    spec["bind_address"] = str(_ip_literal("bind_address", bind_address)) if bind_address else None
    spec.update(_validate_failover(params, spec["size"], sys_class_net))
    return spec


def _validate_failover(params, size, sys_class_net):
    interface = params.get("fail_interface")
    after_bytes = params.get("fail_after_bytes")
    fraction = params.get("fail_after_fraction")
    rejoin = _validate_rejoin(params)
    if interface is None:
        given = [name for name, value in (("fail_after_bytes", after_bytes), ("fail_after_fraction", fraction),
                                          ("rejoin_away", params.get("rejoin_away"))) if value is not None]
        if given:
            raise ValidationError("%s needs fail_interface (the link to take down)" % ", ".join(given))
        return dict(rejoin, fail_interface=None, fail_after_bytes=None)
    if sys_class_net:
        validate_interface(interface, sys_class_net)
    else:
        validate_interface(interface)
    if after_bytes is not None and fraction is not None:
        raise ValidationError("fail_after_bytes and fail_after_fraction are mutually exclusive: give one")
    if size < 2:
        raise ValidationError("size %d is too small to fail a link part way: send at least 2 bytes" % size)
    if after_bytes is not None:
        _in_range("fail_after_bytes", after_bytes, 1, size - 1)
    else:
        if fraction is None:
            fraction = DEFAULT_FAIL_FRACTION
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ValidationError("fail_after_fraction %r is out of range: a number between 0 and 1, "
                                  "both excluded" % (fraction,))
        after_bytes = max(1, int(size * fraction))
    return dict(rejoin, fail_interface=interface, fail_after_bytes=after_bytes)


def _validate_rejoin(params):
    """rejoin_away (address or link: the path is given back part way, and its return
    timed) and its two bounds, which mean nothing without it."""
    away = params.get("rejoin_away")
    if away is None:
        given = [name for name in REJOIN_ONLY if params.get(name) is not None]
        if given:
            raise ValidationError("%s needs rejoin_away (how the path is taken away and given back)" % ", ".join(given))
        return {"rejoin_away": None, "rejoin_hold": None, "rejoin_wait": None}
    if away not in REJOIN_AWAY:
        raise ValidationError("rejoin_away %r is not one of: %s" % (away, ", ".join(REJOIN_AWAY)))
    hold = params.get("rejoin_hold")
    wait = params.get("rejoin_wait")
    return {"rejoin_away": away,
            "rejoin_hold": _in_range("rejoin_hold", DEFAULT_REJOIN_HOLD if hold is None else hold, 1, MAX_REJOIN_SECONDS),
            "rejoin_wait": _in_range("rejoin_wait", DEFAULT_REJOIN_WAIT if wait is None else wait, 1, MAX_REJOIN_SECONDS)}
