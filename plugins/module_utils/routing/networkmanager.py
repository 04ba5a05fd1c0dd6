# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source routing through a NetworkManager profile: its ipv4/ipv6.routing-rules and
ipv4/ipv6.routes hold the rule and the two routes (with `table=T`), then `nmcli device
reapply DEV` puts them in the kernel. NetworkManager then keeps them: it does not remove
them on its next sync as it may remove routes it did not make, a `connection up` brings
them back, and so does a reboot.

nmcli's text, as NetworkManager 1.42 and 1.52 print it (seen in the lab): `nmcli -g`
prints one line per property, a list as `a, b`, with ':' and '\\' escaped by a backslash;
a rule as `priority 1000 from 198.18.69.10 table 1000`, a route as `0.0.0.0/0 198.18.69.1
table=1000` or `198.18.69.0/24 table=1000`. After a reapply, NetworkManager removes the
rules and routes it had made that the profile no longer has (seen on 1.42 and 1.52)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import split_terse
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    make_route,
    make_rule,
    route_key,
    rule_key,
    wanted_routes,
    wanted_rule,
)
from ansible_collections.mptcp.linux.plugins.module_utils.routing.plan import is_our_kind

PROPERTIES = ("ipv4.routing-rules", "ipv4.routes", "ipv6.routing-rules", "ipv6.routes")
MAIN_TABLE = 254


def unescape(text):
    """nmcli -g escapes ':' and '\\' with a backslash."""
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def split_list(value):
    return [item.strip() for item in value.split(", ") if item.strip()]


def _full_length(network):
    return network.prefixlen == network.max_prefixlen


def parse_rule(text, family):
    """`priority 1000 from 198.18.69.10 table 1000` -> a rule (model.make_rule); the words
    this module does not write go to `extra`."""
    words = text.split()
    priority, src, table, extra = 0, None, None, []
    index = 0
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else ""
        if word == "priority" and value.isdigit():
            priority, index = int(value), index + 2
        elif word == "from" and value:
            network = ipaddress.ip_network(u"%s" % value, strict=False) if value != "all" else None
            if network is not None:
                src = "%s" % network.network_address if _full_length(network) else "%s" % network
            index += 2
        elif word == "table" and value.isdigit():
            table, index = int(value), index + 2
        else:
            extra.append(word)
            index += 1
    return make_rule(family, priority, src, table, " ".join(extra))


def parse_route(text, family, dev):
    """`0.0.0.0/0 198.18.69.1 table=1000` -> a route (model.make_route) on `dev`; the
    attributes other than table go to `extra` (the metric is ignored, as in the kernel's)."""
    words = text.split()
    network = ipaddress.ip_network(u"%s" % words[0], strict=False)
    dst = "default" if network.prefixlen == 0 else "%s" % network
    gateway, table, extra = None, MAIN_TABLE, []
    for word in words[1:]:
        if "=" in word:
            key, value = word.split("=", 1)
            if key == "table" and value.isdigit():
                table = int(value)
            else:
                extra.append(word)
            continue
        try:
            gateway = "%s" % ipaddress.ip_address(u"%s" % word)
        except ValueError:
            pass  # the metric
    return make_route(family, table, dst, dev, gateway, " ".join(extra))


def rule_entry(rule):
    return "priority %d from %s table %d" % (rule["priority"], rule["src"], rule["table"])


def route_entry(route):
    dst = ("0.0.0.0/0" if route["family"] == 4 else "::/0") if route["dst"] == "default" else route["dst"]
    words = [dst] + ([route["gateway"]] if route["gateway"] else []) + ["table=%d" % route["table"]]
    return " ".join(words)


def _family(prop):
    return 6 if prop.startswith("ipv6") else 4


class Profile:
    """An active profile of a device, and its four properties (lists of nmcli's texts)."""

    def __init__(self, uuid, name, dev, values):
        self.uuid = uuid
        self.name = name
        self.dev = dev
        self.values = dict((prop, list(values.get(prop, ()))) for prop in PROPERTIES)

    def rules(self):
        return [parse_rule(text, _family(prop)) for prop in PROPERTIES if prop.endswith("routing-rules")
                for text in self.values[prop]]


class NmRouting:
    """nmcli through run(argv) -> (rc, out, err)."""

    def __init__(self, run, nmcli):
        self._run = run
        self._nmcli = nmcli

    def _call(self, args, what):
        rc, out, err = self._run([self._nmcli] + list(args))
        if rc != 0:
            raise MptcpError("%s failed: nmcli %s exited %d: %s" % (what, " ".join(args), rc, (err or out or "").strip()))
        return out

    def running(self):
        rc, out, _err = self._run([self._nmcli, "-t", "-f", "RUNNING", "general"])
        return rc == 0 and out.strip() == "running"

    def active_profiles(self):
        """{device: (uuid, name)} of the active profiles."""
        out = self._call(["-t", "-f", "DEVICE,UUID,NAME", "connection", "show", "--active"],
                         "listing the active NetworkManager profiles")
        active = {}
        for line in out.splitlines():
            fields = split_terse(line)
            if len(fields) == 3 and fields[0]:
                active[fields[0]] = (fields[1], fields[2])
        return active

    def read_profile(self, uuid, name, dev):
        out = self._call(["-g", ",".join(PROPERTIES), "connection", "show", "uuid", uuid],
                         "reading the routes of profile %s" % name)
        lines = out.split("\n")
        if len(lines) < len(PROPERTIES):
            raise MptcpError("cannot read %s of profile %s from nmcli's output %r" % (", ".join(PROPERTIES), name, out[:300]))
        values = dict((prop, split_list(unescape(line))) for prop, line in zip(PROPERTIES, lines))
        return Profile(uuid, name, dev, values)

    def write_profile(self, profile, values, current=None):
        """Write the properties whose `values` differ from `current` (the profile's as read)."""
        current = profile.values if current is None else current
        args = ["connection", "modify", "uuid", profile.uuid]
        for prop in PROPERTIES:
            if values[prop] != current[prop]:
                args += [prop, ", ".join(values[prop])]
        self._call(args, "writing the routes of profile %s" % profile.name)

    def reapply(self, dev):
        self._call(["device", "reapply", dev], "reapplying the profile of %s" % dev)


def _property(family, kind):
    return "ipv%d.%s" % (family, kind)


def plan_profile(profile, entries, state, our_rules_of):
    """The profile's four properties once the entries are `state` -> (values, lines).
    our_rules_of(rules, entry): the rules of the list that are ours for the entry
    (plan.our_rules with the run's ranges)."""
    values = dict((prop, list(items)) for prop, items in profile.values.items())
    lines = []
    for entry in entries:
        family = entry["family"]
        rules_prop, routes_prop = _property(family, "routing-rules"), _property(family, "routes")
        rules = [(text, parse_rule(text, family)) for text in values[rules_prop]]
        mine = our_rules_of([rule for _text, rule in rules], entry)
        mine_keys = set(rule_key(rule) for rule in mine)
        keep_rule = wanted_rule(entry) if state == "present" else None
        tables = set(rule["table"] for rule in mine)
        for text, rule in rules:
            if rule_key(rule) in mine_keys and (keep_rule is None or rule_key(rule) != rule_key(keep_rule)):
                values[rules_prop].remove(text)
                lines.append("profile %s: remove %s '%s'" % (profile.name, rules_prop, text))
        routes = [(text, parse_route(text, family, profile.dev)) for text in values[routes_prop]]
        keep_routes = set(route_key(route) for route in wanted_routes(entry)) if state == "present" else set()
        for text, route in routes:
            if route["table"] in tables and route_key(route) not in keep_routes and _ours(route, entry, state):
                values[routes_prop].remove(text)
                lines.append("profile %s: remove %s '%s'" % (profile.name, routes_prop, text))
        if state == "present":
            have_routes = set(route_key(route) for _text, route in routes)
            for route in wanted_routes(entry):
                if route_key(route) not in have_routes:
                    values[routes_prop].append(route_entry(route))
                    lines.append("profile %s: add %s '%s'" % (profile.name, routes_prop, route_entry(route)))
            if rule_key(keep_rule) not in set(rule_key(rule) for _text, rule in rules):
                values[rules_prop].append(rule_entry(keep_rule))
                lines.append("profile %s: add %s '%s'" % (profile.name, rules_prop, rule_entry(keep_rule)))
    return values, lines


def drop_strays(profile, values, is_stray, kept_tables):
    """exclusive=true: take out of the profile's `values` (as plan_profile left them) the
    rules that is_stray(rule) calls ours for an address not listed, and, once no rule of
    the profile looks their table up, the routes of that table. A table of the profile that
    holds a route the module does not make, or that the kernel's side leaves (kept_tables),
    keeps its rule -> (lines, warnings, addresses whose rules go)."""
    lines, warnings, addresses = [], [], set()
    for family in (4, 6):
        rules_prop, routes_prop = _property(family, "routing-rules"), _property(family, "routes")
        for text in list(values[rules_prop]):
            rule = parse_rule(text, family)
            if not is_stray(rule) or (family, rule["table"]) in kept_tables:
                continue
            in_table = [(route_text, route) for route_text, route in
                        ((item, parse_route(item, family, profile.dev)) for item in values[routes_prop])
                        if route["table"] == rule["table"]]
            foreign = [item for item, route in in_table if not is_our_kind(route, dict(address=rule["src"]))]
            if foreign:
                warnings.append("profile %s: %s '%s' is left: its table %d also holds %s '%s', which "
                                "mptcp_source_routing does not make" % (profile.name, rules_prop, text, rule["table"],
                                                                        routes_prop, foreign[0]))
                continue
            values[rules_prop].remove(text)
            lines.append("profile %s: remove %s '%s' (address not listed)" % (profile.name, rules_prop, text))
            addresses.add(rule["src"])
            if any(parse_rule(other, family)["table"] == rule["table"] for other in values[rules_prop]):
                continue
            for item, _route in in_table:
                values[routes_prop].remove(item)
                lines.append("profile %s: remove %s '%s' (address not listed)" % (profile.name, routes_prop, item))
    return lines, warnings, addresses


def _ours(route, entry, state):
    """A route of the profile in a table of ours that this entry's change removes: with
    state=present, an earlier default or on-link route of the address (another gateway or
    prefix); with absent, exactly the entry's default route and its address's on-link
    route."""
    if route["extra"]:
        return False
    contains = (route["dst"] != "default" and not route["gateway"]
                and ipaddress.ip_address(u"%s" % entry["address"]) in ipaddress.ip_network(u"%s" % route["dst"]))
    if state == "present":
        return (route["dst"] == "default" and bool(route["gateway"])) or contains
    return (route["dst"] == "default" and route["gateway"] == entry["gateway"]) or contains
