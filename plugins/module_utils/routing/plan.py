# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure planner of mptcp_source_routing: (rules and routes found, route entries
wanted) -> the table and priority of each entry, ordered actions (one readable line
each), the predicted rules and routes, and the diff. It reads and touches nothing, so
check mode and a real run share every decision.

What is ours: a rule `from ADDRESS lookup T priority P` (nothing else selected) for an
address of the entries, with T in table_range and P in priority_range (or T and P as the
entry gives them); in the table such a rule looks up, a default route via a gateway on a
device and on-link routes of prefixes that hold the address. Anything else is not ours:
a table or priority it holds is refused, naming what holds it, before anything changes.

A table or priority the module chooses is the one of the rule that is already ours for
the address, else the lowest in its range that nothing uses (no rule of either family
looks the table up or has the priority, no route of either family is in the table):
the choice is stable from run to run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.mptcp.linux.plugins.module_utils.differences import DifferenceTracker
from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    family_name,
    is_plain_rule,
    route_key,
    route_text,
    rule_key,
    rule_text,
    wanted_routes,
    wanted_rule,
)

FAMILIES = (4, 6)


class HostRouting:
    """Rules and routes of both families as found: {family: [rule]}, {family: [route]}.
    profile_rules: rules that NetworkManager profiles hold (they count as taken, and an
    entry may reuse one of its own)."""

    def __init__(self, rules, routes, profile_rules=()):
        self.rules = dict((family, list(rules.get(family, ()))) for family in FAMILIES)
        self.routes = dict((family, list(routes.get(family, ()))) for family in FAMILIES)
        self.profile_rules = list(profile_rules)

    def all_rules(self):
        return [rule for family in FAMILIES for rule in self.rules[family]]

    def all_routes(self):
        return [route for family in FAMILIES for route in self.routes[family]]

    def copy(self):
        return HostRouting(self.rules, self.routes, self.profile_rules)


class Plan:
    def __init__(self, before):
        self.before = before
        self.after = before.copy()
        self.actions = []
        self.resolved = []
        self.tables = set()  # (family, table) the run concerns, for the diff
        self.addresses = set()
        self.kept_tables = set()  # (family, table) of unlisted rules left as they are (exclusive)
        self.warnings = []

    def add(self, op, item, line, owner, src=None):
        """owner: the address of the entry the action is for."""
        action = dict(op=op, item=item, line=line, src=src, owner=owner)
        self.actions.append(action)
        family = item["family"]
        if op in ("add_rule", "delete_rule"):
            rules = self.after.rules[family]
            if op == "add_rule":
                rules.append(item)
            else:
                rules[:] = [rule for rule in rules if rule_key(rule) != rule_key(item)]
        else:
            routes = self.after.routes[family]
            routes[:] = [route for route in routes if route_key(route) != route_key(item)]
            if op == "replace_route":
                routes.append(item)


def _in(value, bounds):
    return bounds[0] <= value <= bounds[1]


def _label(index, field):
    return "routes[%d].%s" % (index, field)


def our_rules(rules, route, table_range, priority_range):
    """The rules that are ours for this entry's address, lowest priority first: from that
    address alone, with a table in table_range (or the entry's table) and a priority in
    priority_range (or the entry's priority)."""
    found = []
    for rule in rules:
        if not is_plain_rule(rule, route["address"]):
            continue
        if ((_in(rule["table"], table_range) or rule["table"] == route["table"])
                and (_in(rule["priority"], priority_range) or rule["priority"] == route["priority"])):
            found.append(rule)
    return sorted(found, key=lambda rule: rule["priority"])


def _lowest_free(bounds, taken, what, name):
    value = bounds[0]
    while value in taken:
        value += 1
    if value > bounds[1]:
        raise ValidationError("no free %s left in %s=[%d, %d]: every one is taken; give a wider %s"
                              % (what, name, bounds[0], bounds[1], name))
    return value


def _taken(host, chosen):
    rules = host.all_rules() + host.profile_rules
    tables = set(rule["table"] for rule in rules if rule["table"] is not None)
    tables |= set(route["table"] for route in host.all_routes())
    priorities = set(rule["priority"] for rule in rules)
    tables |= set(table for table, _priority in chosen)
    priorities |= set(priority for _table, priority in chosen)
    return tables, priorities


def _contains(dst, address):
    if dst == "default":
        return False
    try:
        return ipaddress.ip_address(u"%s" % address) in ipaddress.ip_network(u"%s" % dst, strict=False)
    except ValueError:
        return False


def is_our_kind(route, entry):
    """A route an earlier run may have left in a table that is ours for this entry (with
    another gateway, device or prefix): a plain default route with a gateway, or an
    on-link route of a prefix that holds the address."""
    if route["extra"]:
        return False
    if route["dst"] == "default":
        return bool(route["gateway"])
    return not route["gateway"] and _contains(route["dst"], entry["address"])


def _choice_hint(index, given, field, name):
    if given:
        return "give %s another %s" % (_label(index, field), field)
    return "give %s, or another %s" % (_label(index, field), name)


def _check_table(host, entry, index, given, owned):
    """Refuse a table that a rule not ours looks up, or that holds routes not ours."""
    table = entry["table"]
    hint = _choice_hint(index, given, "table", "table_range")
    for rule in host.all_rules():
        if rule["table"] == table and not is_plain_rule(rule, entry["address"]):
            raise ValidationError("table %d is already looked up by rule '%s' (IPv%d), which mptcp_source_routing "
                                  "did not make: %s" % (table, rule_text(rule), rule["family"], hint))
    ours = set(route_key(route) for route in wanted_routes(entry))
    stale = []
    for route in host.all_routes():
        if route["table"] != table or route_key(route) in ours:
            continue
        if owned and route["family"] == entry["family"] and is_our_kind(route, entry):
            stale.append(route)
            continue
        raise ValidationError("table %d already holds '%s' (IPv%d), which mptcp_source_routing did not make: %s"
                              % (table, route_text(route), route["family"], hint))
    return stale


def _check_priority(host, entry, index, given, mine):
    priority = entry["priority"]
    mine_keys = set(rule_key(rule) for rule in mine)
    for rule in host.all_rules():
        if rule["priority"] == priority and rule_key(rule) not in mine_keys:
            raise ValidationError("priority %d is already held by rule '%s' (IPv%d), which mptcp_source_routing "
                                  "did not make: %s" % (priority, rule_text(rule), rule["family"],
                                                        _choice_hint(index, given, "priority", "priority_range")))


def plan_present(host, entries, table_range, priority_range):
    """entries: validated route entries with `prefix` (the on-link subnet of the address on
    its device). Raises ValidationError on a collision, before any action is planned."""
    plan = Plan(host)
    chosen = []
    for index, entry in enumerate(entries):
        family = entry["family"]
        mine = our_rules(host.rules[family] + [r for r in host.profile_rules if r["family"] == family],
                         entry, table_range, priority_range)
        resolved = dict(entry)
        tables, priorities = _taken(host, chosen)
        if resolved["table"] is None:
            resolved["table"] = mine[0]["table"] if mine else _lowest_free(table_range, tables, "table", "table_range")
        if resolved["priority"] is None:
            resolved["priority"] = (mine[0]["priority"] if mine
                                    else _lowest_free(priority_range, priorities, "priority", "priority_range"))
        for table, priority in chosen:
            if resolved["table"] == table or resolved["priority"] == priority:
                raise ValidationError("%s: table %d / priority %d is chosen for an earlier entry too; give each "
                                      "entry a table and a priority of its own"
                                      % (_label(index, "table"), resolved["table"], resolved["priority"]))
        chosen.append((resolved["table"], resolved["priority"]))
        owned = any(rule["table"] == resolved["table"] for rule in mine)
        stale_routes = _check_table(host, resolved, index, entry["table"] is not None, owned)
        _check_priority(host, resolved, index, entry["priority"] is not None, mine)
        plan.resolved.append(resolved)
        plan.tables.add((family, resolved["table"]))
        plan.addresses.add(entry["address"])
    for resolved in plan.resolved:
        _plan_entry(plan, host, resolved, table_range, priority_range)
    return plan


def is_stray_rule(rule, listed, table_range, priority_range):
    """With exclusive: a rule that is ours by the module's definition (from one address
    alone, nothing else selected, a table of table_range, a priority of priority_range)
    for an address not listed."""
    src = rule["src"]
    return (bool(src) and "/" not in src and src not in listed and is_plain_rule(rule, src)
            and _in(rule["table"], table_range) and _in(rule["priority"], priority_range))


def foreign_routes(routes, family, table, address):
    """The routes of a table that this module would not have made for `address`."""
    owner = dict(address=address)
    return [route for route in routes[family] if route["table"] == table and not is_our_kind(route, owner)]


def plan_exclusive(plan, host, table_range, priority_range):
    """exclusive=true: remove the rules of ours of the addresses not listed, and the routes
    of their tables once no rule looks them up (the default route first). A table that
    holds a route the module does not make is no proof that the rule is ours: the rule and
    the table are left as they are, with a warning."""
    listed = set(entry["address"] for entry in plan.resolved)
    for family in FAMILIES:
        for rule in sorted(host.rules[family], key=lambda rule: rule["priority"]):
            if not is_stray_rule(rule, listed, table_range, priority_range):
                continue
            table = rule["table"]
            foreign = foreign_routes(host.routes, family, table, rule["src"])
            if foreign:
                plan.kept_tables.add((family, table))
                plan.warnings.append("rule '%s' (IPv%d) is left: its table %d also holds '%s', which mptcp_source_routing "
                                     "does not make" % (rule_text(rule), family, table, route_text(foreign[0])))
                continue
            plan.add("delete_rule", rule, "delete IPv%d rule '%s' (address not listed)" % (family, rule_text(rule)),
                     rule["src"])
            plan.addresses.add(rule["src"])
            plan.tables.add((family, table))
            if any(other["table"] == table for other in plan.after.rules[family]):
                continue
            for route in sorted(host.routes[family], key=lambda route: route["dst"] != "default"):
                if route["table"] == table:
                    plan.add("delete_route", route, "delete route '%s' from IPv%d table %d (address not listed)"
                             % (route_text(route), family, table), rule["src"],
                             src=rule["src"] if not route["gateway"] else None)
    return plan


def _plan_entry(plan, host, entry, table_range, priority_range):
    family = entry["family"]
    where = "IPv%d table %d" % (family, entry["table"])
    present = set(route_key(route) for route in host.routes[family])
    mine = our_rules(host.rules[family], entry, table_range, priority_range)
    owned = any(rule["table"] == entry["table"] for rule in mine)
    wanted = wanted_routes(entry)
    wanted_keys = set(route_key(route) for route in wanted)
    if owned:
        for route in host.routes[family]:
            if route["table"] == entry["table"] and route_key(route) not in wanted_keys and is_our_kind(route, entry):
                plan.add("delete_route", route, "delete route '%s' from %s (replaced)" % (route_text(route), where),
                         entry["address"], src=entry["address"] if not route["gateway"] else None)
    for route in wanted:
        if route_key(route) not in present:
            plan.add("replace_route", route, "add route '%s' to %s" % (route_text(route), where),
                     entry["address"], src=entry["address"] if not route["gateway"] else None)
    rule = wanted_rule(entry)
    rule_found = any(rule_key(found) == rule_key(rule) for found in host.rules[family])
    if not rule_found:
        plan.add("add_rule", rule, "add IPv%d rule '%s'" % (family, rule_text(rule)), entry["address"])
    for old in mine:
        if rule_key(old) != rule_key(rule):
            plan.add("delete_rule", old, "delete IPv%d rule '%s' (replaced by '%s')"
                     % (family, rule_text(old), rule_text(rule)), entry["address"])
            plan.tables.add((family, old["table"]))
            _empty_old_table(plan, entry, old["table"])


def _empty_old_table(plan, entry, table):
    """The routes of ours in a table the address no longer uses (its rule moved to another
    table), once no rule looks that table up: left there, they would hold it for nothing."""
    family = entry["family"]
    if table == entry["table"] or any(rule["table"] == table for rule in plan.after.all_rules()):
        return
    for route in sorted(plan.before.routes[family], key=lambda route: route["dst"] != "default"):
        if route["table"] == table and is_our_kind(route, entry):
            plan.add("delete_route", route, "delete route '%s' from IPv%d table %d (no longer used)"
                     % (route_text(route), family, table), entry["address"],
                     src=entry["address"] if not route["gateway"] else None)


def _absent_routes(host, entry, table):
    family = entry["family"]
    found = []
    for route in host.routes[family]:
        if route["table"] != table or route["dev"] != entry["dev"] or route["extra"]:
            continue
        if route["dst"] == "default" and route["gateway"] == entry["gateway"]:
            found.append(route)
        elif route["dst"] != "default" and not route["gateway"] and _contains(route["dst"], entry["address"]):
            found.append(route)
    # The default route before the on-link one: the reverse of how they are set up.
    return sorted(found, key=lambda route: route["dst"] != "default")


def plan_absent(host, entries, table_range, priority_range):
    """Remove the rules that are ours for each address, then, in the tables they looked up,
    the default route via the entry's gateway on its device and the on-link routes of the
    address's subnet on it; nothing else."""
    plan = Plan(host)
    for entry in entries:
        family = entry["family"]
        mine = our_rules(host.rules[family], entry, table_range, priority_range)
        plan.addresses.add(entry["address"])
        resolved = dict(entry, table=mine[0]["table"] if mine else entry["table"],
                        priority=mine[0]["priority"] if mine else entry["priority"], prefix=None)
        for rule in mine:
            plan.add("delete_rule", rule, "delete IPv%d rule '%s'" % (family, rule_text(rule)), entry["address"])
            plan.tables.add((family, rule["table"]))
        tables = sorted(set(rule["table"] for rule in mine) | set([entry["table"]] if entry["table"] else []))
        for table in tables:
            plan.tables.add((family, table))
            # Only a table no other rule looks up once ours are gone: a table still in use
            # by another rule is not ours to empty.
            others = [rule for rule in plan.after.rules[family] if rule["table"] == table]
            if others:
                continue
            for route in _absent_routes(host, entry, table):
                if route["dst"] != "default":
                    resolved["prefix"] = route["dst"]
                plan.add("delete_route", route, "delete route '%s' from IPv%d table %d" % (route_text(route), family, table),
                         entry["address"], src=entry["address"] if not route["gateway"] else None)
        plan.resolved.append(resolved)
    return plan


def concerned_lines(host, plan):
    """{name: [lines]} of the rules and tables the run concerns: the rules of its addresses,
    tables and priorities, and the routes of its tables, per family."""
    priorities = set(entry["priority"] for entry in plan.resolved if entry["priority"])
    tables = plan.tables
    lines = {}
    for family in FAMILIES:
        family_tables = sorted(table for fam, table in tables if fam == family)
        rules = [rule for rule in host.rules[family]
                 if rule["src"] in plan.addresses or rule["table"] in family_tables or rule["priority"] in priorities]
        if rules or family_tables:
            lines["%s rules" % family_name(family)] = [rule_text(rule) for rule in sorted(rules, key=lambda r: r["priority"])]
        for table in family_tables:
            lines["%s table %d" % (family_name(family), table)] = sorted(
                route_text(route) for route in host.routes[family] if route["table"] == table)
    return lines


def routing_tracker(plan, after_host):
    """The concerned rules and tables before and after, in a DifferenceTracker."""
    tracker = DifferenceTracker()
    before = concerned_lines(plan.before, plan)
    after = concerned_lines(after_host, plan)
    for name in sorted(set(before) | set(after)):
        tracker.add(name, before.get(name, []), after.get(name, []))
    return tracker
