# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source routing as mptcp_source_routing sees it, and the static validation of its
inputs (pure: nothing on a host is read, so the role's preflight runs it on the
controller).

An extra subflow leaves from its endpoint's address; without a rule that sends packets
from that address to a table of its own, they take the main table's default route, which
may lead out of another interface (the peer's reply never comes back, or a strict
rp_filter drops it). So each address gets:
- a rule `from ADDRESS lookup TABLE priority PRIORITY`;
- in TABLE, the on-link route of the address's subnet on its device (peers on that subnet
  stay direct) and a default route via the path's gateway on that device.

A route entry is a dict: address and gateway (compressed text), dev, table and priority
(int, None where the module chooses), family (4 or 6)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError

ROUTE_FIELDS = ("address", "gateway", "dev", "table", "priority")
REQUIRED_FIELDS = ("address", "gateway", "dev")
# unspec (0), default (253), main (254) and local (255) belong to the kernel's own rules.
RESERVED_TABLES = {0: "unspec", 253: "default", 254: "main", 255: "local"}
TABLE_MIN, TABLE_MAX = 1, 2 ** 32 - 1
# 0 is the local table's rule; 32766 and 32767 are main's and default's.
PRIORITY_MIN, PRIORITY_MAX = 1, 32765
DEFAULT_TABLE_RANGE = (1000, 1999)
DEFAULT_PRIORITY_RANGE = (1000, 1999)
FAMILY_NAMES = {4: "ipv4", 6: "ipv6"}
# Linux's IFNAMSIZ is 16 with the terminating NUL.
IFNAME_MAX = 15


def _label(index, field=None):
    return "routes[%d]%s" % (index, "." + field if field else "")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(value, label):
    """An int, or the text of one (the role's variables may come as text)."""
    if _is_int(value):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValidationError("%s=%r is not a whole number" % (label, value))


def validate_table(value, label):
    table = _integer(value, label)
    if table in RESERVED_TABLES:
        raise ValidationError("%s=%d is the kernel's %s table: give a table of its own (%d to %d, "
                              "not 253-255)" % (label, table, RESERVED_TABLES[table], TABLE_MIN, TABLE_MAX))
    if not TABLE_MIN <= table <= TABLE_MAX:
        raise ValidationError("%s=%d is out of range: a routing table is %d to %d (not 253-255)"
                              % (label, table, TABLE_MIN, TABLE_MAX))
    return table


def validate_priority(value, label):
    priority = _integer(value, label)
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValidationError("%s=%d is out of range: a rule's priority here is %d to %d (0, 32766 and "
                              "32767 are the kernel's own rules)" % (label, priority, PRIORITY_MIN, PRIORITY_MAX))
    return priority


def _address(value, label):
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("%s=%r is not an IP address" % (label, value))
    try:
        address = ipaddress.ip_address(u"%s" % value.strip())
    except ValueError:
        raise ValidationError("%s=%r is not an IPv4 or IPv6 address (a plain address, without a "
                              "prefix length)" % (label, value))
    if address.is_unspecified or address.is_multicast or address.is_loopback:
        raise ValidationError("%s=%s is not a unicast address of a host" % (label, address))
    return address


def validate_dev(value, label):
    """The rules of the kernel for an interface name (dev_valid_name)."""
    if (not isinstance(value, str) or not value or len(value) > IFNAME_MAX or value in (".", "..")
            or any(char in value for char in "/:") or any(char.isspace() for char in value)):
        raise ValidationError("%s=%r is not an interface name (1 to %d characters, no '/', ':' or "
                              "white space)" % (label, value, IFNAME_MAX))
    return value


def validate_range(value, name, low, high):
    """table_range / priority_range: [first, last], low <= first <= last <= high."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValidationError("%s=%r must be a list of two numbers, the first and the last" % (name, value))
    first, last = (_integer(item, name) for item in value)
    if not low <= first <= last <= high:
        raise ValidationError("%s=[%d, %d] must be within %d to %d, first <= last" % (name, first, last, low, high))
    return first, last


def validate_table_range(value):
    first, last = validate_range(value, "table_range", TABLE_MIN, TABLE_MAX)
    reserved = [table for table in sorted(RESERVED_TABLES) if first <= table <= last]
    if reserved:
        raise ValidationError("table_range=[%d, %d] takes in the kernel's table %d (%s)"
                              % (first, last, reserved[0], RESERVED_TABLES[reserved[0]]))
    return first, last


def validate_priority_range(value):
    return validate_range(value, "priority_range", PRIORITY_MIN, PRIORITY_MAX)


def validate_route(entry, index):
    """One entry of `routes` -> a normalized route dict (see the module docstring)."""
    if not isinstance(entry, dict):
        raise ValidationError("%s=%r must be a dict with address, gateway and dev" % (_label(index), entry))
    unknown = sorted(set(entry) - set(ROUTE_FIELDS))
    if unknown:
        raise ValidationError("%s has unknown key %s (the keys are %s)"
                              % (_label(index), ", ".join(unknown), ", ".join(ROUTE_FIELDS)))
    for field in REQUIRED_FIELDS:
        if entry.get(field) in (None, ""):
            raise ValidationError("%s is required" % _label(index, field))
    address = _address(entry["address"], _label(index, "address"))
    gateway = _address(entry["gateway"], _label(index, "gateway"))
    if gateway.version != address.version:
        raise ValidationError("%s=%s is an IPv%d address but %s=%s is IPv%d: the gateway of a path is "
                              "of its address's family" % (_label(index, "gateway"), gateway, gateway.version,
                                                           _label(index, "address"), address, address.version))
    if gateway == address:
        raise ValidationError("%s=%s is the address itself: give the router's address on that path"
                              % (_label(index, "gateway"), gateway))
    table = entry.get("table")
    priority = entry.get("priority")
    return dict(
        address=str(address), gateway=str(gateway), dev=validate_dev(entry["dev"], _label(index, "dev")),
        table=validate_table(table, _label(index, "table")) if table is not None else None,
        priority=validate_priority(priority, _label(index, "priority")) if priority is not None else None,
        family=address.version)


def validate_routes(routes):
    """The module's (and the role's) `routes` -> a list of normalized route dicts, or the
    ValidationError naming the first bad value and its index. Pure: reads no host, so
    that a bad value fails on the controller before any host is touched."""
    if not isinstance(routes, (list, tuple)):
        raise ValidationError("routes=%r must be a list of dicts (address, gateway, dev)" % (routes,))
    normalized = []
    seen = {}
    for index, entry in enumerate(routes):
        route = validate_route(entry, index)
        for field in ("address", "table", "priority"):
            value = route[field]
            if value is None:
                continue
            key = (field, value)
            if key in seen:
                raise ValidationError("%s=%s is given twice (also %s): each address needs a %s of its own"
                                      % (_label(index, field), value, _label(seen[key], field),
                                         "entry" if field == "address" else field))
            seen[key] = index
        normalized.append(route)
    return normalized


def family_name(family):
    return FAMILY_NAMES[family]


def make_rule(family, priority, src, table, extra=""):
    """A rule: family (4|6), priority, src (an address, or a prefix `A/N`, or None for all),
    table (int, None where the rule does not look up a table) and extra (its other
    selectors and actions, in `ip rule`'s words; empty for a rule of the kind we make)."""
    return dict(family=family, priority=priority, src=src, table=table, extra=extra)


def rule_text(rule):
    """In `ip rule`'s words: `1000: from 198.18.62.2 lookup 1000`."""
    words = ["%d:" % rule["priority"], "from", rule["src"] or "all"]
    if rule["extra"]:
        words.append(rule["extra"])
    if rule["table"] is not None:
        words += ["lookup", "%d" % rule["table"]]
    return " ".join(words)


def is_plain_rule(rule, address):
    """A rule of the kind this module makes for `address`: from that one address, nothing
    else selected, looking up a table."""
    return rule["src"] == address and not rule["extra"] and rule["table"] is not None


def make_route(family, table, dst, dev, gateway=None, extra=""):
    """A route: family, table (int), dst (`default` or a prefix), dev, gateway (None for an
    on-link route) and extra (its type if not unicast, several next hops...: such a route
    is never one of ours)."""
    return dict(family=family, table=table, dst=dst, dev=dev, gateway=gateway, extra=extra)


def route_text(route):
    """In `ip route`'s words: `default via 198.18.62.1 dev eth1`."""
    words = [route["dst"]]
    if route["gateway"]:
        words += ["via", route["gateway"]]
    if route["dev"]:
        words += ["dev", route["dev"]]
    if route["extra"]:
        words.append(route["extra"])
    return " ".join(words)


def route_key(route):
    """What makes two routes the same route for this module (metric, protocol and the
    source hint are NetworkManager's or the kernel's business)."""
    return (route["family"], route["table"], route["dst"], route["dev"], route["gateway"], route["extra"])


def rule_key(rule):
    return (rule["family"], rule["priority"], rule["src"], rule["table"], rule["extra"])


def wanted_rule(route):
    """The rule a resolved route entry needs."""
    return make_rule(route["family"], route["priority"], route["address"], route["table"])


def wanted_routes(route):
    """The two routes of a resolved route entry's table: the on-link subnet, then the
    default via the gateway (in the order they are set up: the gateway must be on-link)."""
    return [make_route(route["family"], route["table"], route["prefix"], route["dev"]),
            make_route(route["family"], route["table"], "default", route["dev"], route["gateway"])]
