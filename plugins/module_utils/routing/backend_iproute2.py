# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules and routes through `ip [-n NS] [-6] rule|route ...`: argument lists (never a
shell), JSON output (`ip -j`, iproute2 4.17 and later, so Debian 11's 5.9 too) read with
-N, so that tables come as numbers even where /etc/iproute2/rt_tables names them.

iproute2 rather than pyroute2: the boot unit of the role sets the rules up again at boot
with `ip` (boot_argv below), so a run of the module and a boot run the same commands, and
every distribution has iproute2. Routes are read with `route show table all` and filtered
here: `ip -j route show table N` of a table that does not exist prints half a JSON
document and fails (iproute2 6.1, "FIB table does not exist")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    make_route,
    make_rule,
    route_text,
    rule_text,
)

# The names iproute2 prints without -N (or an older one with it) for the kernel's tables.
TABLE_NAMES = {"unspec": 0, "default": 253, "main": 254, "local": 255}
# Keys of `ip -j rule` that are not a selector or an action (what a rule matches and does).
RULE_INFO_KEYS = ("priority", "src", "srclen", "table", "protocol", "flags")
# Keys of `ip -j route` that do not change where a packet goes, for telling ours apart.
ROUTE_INFO_KEYS = ("dst", "gateway", "dev", "table", "protocol", "scope", "prefsrc", "metric",
                   "flags", "pref", "expires", "cache")
UNICAST = (None, "unicast", "1")


def _family_args(family):
    return ["-6"] if family == 6 else ["-4"]


def _json(out, what):
    try:
        return json.loads(out) if out and out.strip() else []
    except ValueError:
        raise MptcpError("cannot read `%s` output as JSON: %r" % (what, out[:200]))


def table_number(value):
    """A table as -N prints it ("1000"), or by a name of the kernel's ("main"); None for
    a name that is not known (a rule or route of such a table is never one of ours)."""
    if value is None:
        return 254  # a route of the main table comes without "table"
    text = "%s" % value
    if text.isdigit():
        return int(text)
    return TABLE_NAMES.get(text)


def _extra(entry, info_keys):
    return " ".join("%s %s" % (key, "" if value is None else value)
                    for key, value in sorted(entry.items()) if key not in info_keys).strip()


def parse_rules(out, family):
    """`ip -N -j [-6] rule show` -> rules (model.make_rule)."""
    rules = []
    for entry in _json(out, "ip -j rule show"):
        src = entry.get("src")
        if src in (None, "all"):
            src = None
        elif entry.get("srclen") is not None and entry["srclen"] != (32 if family == 4 else 128):
            src = "%s/%s" % (src, entry["srclen"])
        else:
            src = "%s" % ipaddress.ip_address(u"%s" % src)
        extra = _extra(entry, RULE_INFO_KEYS)
        table = table_number(entry["table"]) if "table" in entry else None
        if "table" in entry and table is None:
            extra = ("%s table %s" % (extra, entry["table"])).strip()
        rule = make_rule(family, int(entry.get("priority", 0)), src, table, extra)
        rule["text"] = rule_text(rule)
        rules.append(rule)
    return rules


def _dst(entry, family):
    dst = entry.get("dst", "default")
    if dst == "default":
        return dst
    try:
        return "%s" % ipaddress.ip_network(u"%s" % dst, strict=False)
    except ValueError:
        return dst


def parse_routes(out, family):
    """`ip -N -j [-6] route show table all` -> routes (model.make_route) of the tables
    that have a number (the local table's and the cache's left out)."""
    routes = []
    for entry in _json(out, "ip -j route show table all"):
        table = table_number(entry.get("table"))
        if table is None or table == 255:
            continue
        extra = _extra(entry, ROUTE_INFO_KEYS + ("type",))
        if entry.get("type") not in UNICAST:
            extra = ("type %s %s" % (entry["type"], extra)).strip()
        route = make_route(family, table, _dst(entry, family), entry.get("dev"),
                           gateway=entry.get("gateway"), extra=extra)
        if route["gateway"]:
            route["gateway"] = "%s" % ipaddress.ip_address(u"%s" % route["gateway"])
        route["text"] = route_text(route)
        routes.append(route)
    return routes


def parse_links(out):
    return set(link["ifname"] for link in _json(out, "ip -j link show"))


def parse_addresses(out):
    """`ip -j address show dev DEV` -> [ipaddress interface] of its global and site
    addresses."""
    interfaces = []
    for link in _json(out, "ip -j address show"):
        for entry in link.get("addr_info", []):
            if entry.get("family") in ("inet", "inet6") and entry.get("local"):
                interfaces.append(ipaddress.ip_interface(u"%s/%s" % (entry["local"], entry["prefixlen"])))
    return interfaces


# --- the commands ----------------------------------------------------------------------------
# Static: the role's boot unit runs the same ones (boot_argv).

def rule_args(verb, rule):
    """`[-6] rule add|del from ADDR lookup TABLE priority PRIORITY`."""
    return _family_args(rule["family"]) + ["rule", verb, "from", rule["src"], "lookup", "%d" % rule["table"],
                                           "priority", "%d" % rule["priority"]]


def route_args(verb, route, src=None):
    """`[-6] route replace|del DST [via GW] dev DEV table TABLE`; an IPv4 on-link route
    gets `scope link` and, with src, `src ADDR` (the source hint of packets that leave by
    it without a bound address). IPv6 takes no src here: an address still in duplicate
    address detection refuses it, which is what a boot sees."""
    args = _family_args(route["family"]) + ["route", verb, route["dst"]]
    if route["gateway"]:
        args += ["via", route["gateway"]]
    args += ["dev", route["dev"], "table", "%d" % route["table"]]
    if not route["gateway"] and route["family"] == 4:
        args += ["scope", "link"]
        if src and verb != "del":
            args += ["src", src]
    return args


def boot_argv(route):
    """The `ip` argument lists (without the `ip` itself: the caller puts its path first,
    as with path_manager's Iproute2Backend.add_args) that set one resolved route entry up
    on a namespace that has none of it, as the boot unit runs them, in order:

    - `[-6] route replace PREFIX dev DEV table T [scope link src ADDR]` (the on-link route
      of the address's subnet; scope and src for IPv4 only)
    - `[-6] route replace default via GW dev DEV table T`
    - `[-6] rule add from ADDR lookup T priority P`

    The routes come first: the gateway must be on-link in table T before the default route
    can use it, and a rule is only added once its table leads somewhere. `replace` makes a
    second run harmless; `rule add` of a rule that is there fails with "File exists", which
    the boot unit may ignore (the rule is what was wanted).

    route: a dict with address, gateway, dev, table, priority, prefix (the subnet of the
    address on dev, e.g. "198.18.62.0/24") and family (4, 6, "ipv4" or "ipv6"; the
    address's family where left out), as mptcp_source_routing returns in `routes`."""
    family = route.get("family")
    family = {"ipv4": 4, "ipv6": 6}.get(family, family) or ipaddress.ip_address(u"%s" % route["address"]).version
    resolved = dict(route, family=family)
    subnet, default = (make_route(family, int(route["table"]), route["prefix"], route["dev"]),
                       make_route(family, int(route["table"]), "default", route["dev"], route["gateway"]))
    return [route_args("replace", subnet, route["address"]),
            route_args("replace", default),
            rule_args("add", make_rule(family, int(route["priority"]), resolved["address"], int(route["table"])))]


class Iproute2Routing:
    """Reads and writes rules and routes with `ip`, through run(argv) -> (rc, out, err)."""

    name = "iproute2"

    def __init__(self, run, ip_path, netns=None):
        self._run = run
        self._ip = ip_path
        self.netns = netns

    def _call(self, args, what):
        argv = [self._ip] + (["-n", self.netns] if self.netns else []) + list(args)
        rc, out, err = self._run(argv)
        if rc != 0:
            raise MptcpError("%s failed: `%s` said: %s" % (
                what, " ".join(argv), (err or out or "").strip() or "exit status %d" % rc))
        return out

    def read_rules(self, family):
        return parse_rules(self._call(["-N", "-j"] + _family_args(family) + ["rule", "show"],
                                      "reading the IPv%d rules" % family), family)

    def read_routes(self, family):
        return parse_routes(self._call(["-N", "-j"] + _family_args(family) + ["route", "show", "table", "all"],
                                       "reading the IPv%d routes" % family), family)

    def links(self):
        return parse_links(self._call(["-j", "link", "show"], "listing the interfaces"))

    def addresses(self, dev):
        return parse_addresses(self._call(["-j", "address", "show", "dev", dev],
                                          "reading the addresses of %s" % dev))

    def add_rule(self, rule):
        self._call(rule_args("add", rule), "adding rule '%s'" % rule_text(rule))

    def delete_rule(self, rule):
        self._call(rule_args("del", rule), "deleting rule '%s'" % rule_text(rule))

    def replace_route(self, route, src=None):
        self._call(route_args("replace", route, src), "adding route '%s' to table %d" % (route_text(route), route["table"]))

    def delete_route(self, route):
        self._call(route_args("del", route), "deleting route '%s' from table %d" % (route_text(route), route["table"]))
