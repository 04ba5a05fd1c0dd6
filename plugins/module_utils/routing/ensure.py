# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_source_routing does, without Ansible around it: validate every input, then,
holding the namespace's lock (and NetworkManager's, where a profile is written), read the
rules and routes, decide per entry whether the kernel or NetworkManager holds them, plan,
apply unless in check mode, read back and check that the kernel holds what was planned,
else undo the batch (the kernel's steps and the profiles written)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.netns import netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.routing.apply import apply_actions, routing_batch
from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import Iproute2Routing
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    family_name,
    route_key,
    rule_key,
    validate_priority_range,
    validate_routes,
    validate_table_range,
)
from ansible_collections.mptcp.linux.plugins.module_utils.routing.networkmanager import NmRouting, drop_strays, plan_profile
from ansible_collections.mptcp.linux.plugins.module_utils.routing.plan import (
    FAMILIES,
    HostRouting,
    is_stray_rule,
    our_rules,
    plan_absent,
    plan_exclusive,
    plan_present,
    routing_tracker,
)

VIAS = ("auto", "kernel", "networkmanager")
# NetworkManager 1.52 put IPv6 routes in place 1-2 s after `device reapply` returned.
VERIFY_TIMEOUT = 10.0
VERIFY_INTERVAL = 0.25
# Exists wherever NetworkManager is installed: the lock of its profiles (nm_mptcp_flags's too).
NM_CONFIG_DIR = "/etc/NetworkManager"


class Request:
    """The module's parameters, validated: nothing on the host has been read yet."""

    def __init__(self, params):
        self.state = params["state"]
        self.via = params["via"]
        if self.via not in VIAS:
            raise ValidationError("via=%r is not one of %s" % (self.via, ", ".join(VIAS)))
        self.entries = validate_routes(params["routes"])
        self.table_range = validate_table_range(params["table_range"])
        self.priority_range = validate_priority_range(params["priority_range"])
        self.netns = params.get("netns")
        self.exclusive = bool(params.get("exclusive"))
        if self.exclusive and self.state != "present":
            raise ValidationError("exclusive=true is for state=present (it removes the rules of the addresses "
                                  "not listed); with state=absent list the addresses to remove")
        if self.netns and self.via == "networkmanager":
            raise ValidationError("via=networkmanager with netns=%s: NetworkManager manages the network "
                                  "namespace it runs in, not a named one; use via=kernel" % self.netns)


def _label(index, field):
    return "routes[%d].%s" % (index, field)


def resolve_devices(backend, entries):
    """Every entry's device exists and holds its address: the entry gets `prefix`, the
    on-link subnet of the address there."""
    links = backend.links()
    for index, entry in enumerate(entries):
        if entry["dev"] not in links:
            raise ValidationError("%s=%s: there is no such interface (the interfaces are %s)"
                                  % (_label(index, "dev"), entry["dev"], ", ".join(sorted(links))))
        interfaces = backend.addresses(entry["dev"])
        found = [interface for interface in interfaces if "%s" % interface.ip == entry["address"]]
        if not found:
            raise ValidationError("%s=%s is not an address of %s (its addresses are %s): give the address the "
                                  "endpoint has on that device" % (
                                      _label(index, "address"), entry["address"], entry["dev"],
                                      ", ".join("%s" % interface for interface in interfaces) or "none"))
        entry["prefix"] = "%s" % found[0].network


def choose_vias(request, host):
    """{address: (via, profile or None)}, and the NetworkManager client where one is used.
    auto: NetworkManager where it runs (not in a named namespace) and the device has an
    active profile, else the kernel."""
    if request.via == "kernel" or (request.via == "auto" and request.netns):
        return dict((entry["address"], ("kernel", None)) for entry in request.entries), None
    # exclusive: the profiles of every device are looked at, for rules of ours to remove.
    nmcli = host.bin_path("nmcli")
    client = NmRouting(host.run, nmcli) if nmcli else None
    running = client is not None and client.running()
    if request.via == "networkmanager" and not running:
        why = "NetworkManager is not running" if nmcli else "nmcli (NetworkManager's client) was not found"
        raise MptcpError("via=networkmanager: %s" % why)
    active = client.active_profiles() if running else {}
    vias = {}
    for index, entry in enumerate(request.entries):
        profile = active.get(entry["dev"])
        if profile is None and request.via == "networkmanager":
            raise ValidationError("%s=%s has no active NetworkManager profile: activate one, or use via=kernel"
                                  % (_label(index, "dev"), entry["dev"]))
        vias[entry["address"]] = ("networkmanager", profile) if profile else ("kernel", None)
    needed = any(via == "networkmanager" for via, _p in vias.values()) or (request.exclusive and running)
    return vias, (client if needed else None)


def read_host(backend, profile_rules=()):
    return HostRouting(dict((family, backend.read_rules(family)) for family in FAMILIES),
                       dict((family, backend.read_routes(family)) for family in FAMILIES), profile_rules)


def lock_for(netns, netns_file, check_mode):
    """The namespace's routing, for one run at a time (check mode: shared). The same inode
    as the path manager's lock: runs of both on one namespace take turns too."""
    if netns:
        return HostLock(netns_file, "the routing rules of netns %s" % netns, shared=check_mode)
    return HostLock("/proc/self/ns/net", "the routing rules of this network namespace", shared=check_mode)


class NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def action_holds(host_after, action):
    """Whether the kernel, as read back, shows the action done."""
    item = action["item"]
    family = item["family"]
    if action["op"] in ("add_rule", "delete_rule"):
        present = any(rule_key(rule) == rule_key(item) for rule in host_after.rules[family])
        return present == (action["op"] == "add_rule")
    present = any(route_key(route) == route_key(item) for route in host_after.routes[family])
    return present == (action["op"] == "replace_route")


class Run:
    """One run: the request, the host, the plan and what was done."""

    def __init__(self, request, check_mode, host):
        self.request = request
        self.check_mode = check_mode
        self.host = host
        self.netns_file = netns_path(request.netns) if request.netns else None
        self.backend = Iproute2Routing(host.run, host.bin_path("ip", required=True), request.netns)
        self.done = []
        self.written = []  # (profile, values before)

    def run(self):
        with lock_for(self.request.netns, self.netns_file, self.check_mode):
            if self.request.state == "present":
                resolve_devices(self.backend, self.request.entries)
            self.vias, self.client = choose_vias(self.request, self.host)
            nm_lock = HostLock(NM_CONFIG_DIR, "NetworkManager's profiles", shared=self.check_mode) if self.client else NoLock()
            with nm_lock:
                return self._locked()

    def _profiles(self):
        """{uuid: Profile} of the entries NetworkManager holds; with exclusive, of every
        active profile (one may hold a rule of an address no longer listed)."""
        profiles = {}
        if self.request.exclusive and self.client:
            for dev, (uuid, name) in sorted(self.client.active_profiles().items()):
                if uuid not in profiles:
                    profiles[uuid] = self.client.read_profile(uuid, name, dev)
            return profiles
        for entry in self.request.entries:
            via, profile = self.vias[entry["address"]]
            if via == "networkmanager" and profile[0] not in profiles:
                profiles[profile[0]] = self.client.read_profile(profile[0], profile[1], entry["dev"])
        return profiles

    def _our_rules(self, rules, entry):
        return our_rules(rules, entry, self.request.table_range, self.request.priority_range)

    def _locked(self):
        request = self.request
        profiles = self._profiles()
        before = read_host(self.backend, [rule for profile in profiles.values() for rule in profile.rules()])
        planner = plan_present if request.state == "present" else plan_absent
        plan = planner(before, request.entries, request.table_range, request.priority_range)
        if request.exclusive:
            plan_exclusive(plan, before, request.table_range, request.priority_range)
            self._stray_vias(plan, profiles)
        by_address = dict((entry["address"], entry) for entry in plan.resolved)
        kernel_actions = [a for a in plan.actions if self.vias[a["owner"]][0] == "kernel"]
        nm_kernel_actions = [a for a in plan.actions if self.vias[a["owner"]][0] == "networkmanager"]
        profile_plans = []
        for uuid, profile in sorted(profiles.items()):
            entries = [by_address[e["address"]] for e in request.entries if self.vias[e["address"]][1]
                       and self.vias[e["address"]][1][0] == uuid]
            values, lines = plan_profile(profile, entries, request.state, self._our_rules)
            owners = set(entry["address"] for entry in entries)
            if request.exclusive:
                listed = set(entry["address"] for entry in plan.resolved)
                stray_lines, stray_warnings, strays = drop_strays(
                    profile, values, lambda rule: is_stray_rule(rule, listed, request.table_range, request.priority_range),
                    plan.kept_tables)
                lines += stray_lines
                plan.warnings += stray_warnings
                owners |= strays
            reapply = bool(lines) or any(a["owner"] in owners for a in nm_kernel_actions)
            profile_plans.append((profile, values, lines, reapply))
        changes = [a["line"] for a in kernel_actions]
        for profile, _values, lines, reapply in profile_plans:
            changes += lines
            if reapply:
                changes.append("reapply profile %s on %s" % (profile.name, profile.dev))
        changed = bool(changes)
        after = plan.after
        if changed and not self.check_mode:
            after = self._apply(plan, kernel_actions, nm_kernel_actions, profile_plans)
        tracker = routing_tracker(plan, after)
        for profile, values, _lines, _reapply in profile_plans:
            for prop in sorted(values):
                if values[prop] != profile.values[prop] or profile.values[prop]:
                    tracker.add("profile %s %s" % (profile.name, prop), profile.values[prop], values[prop])
        where = " (netns %s)" % request.netns if request.netns else ""
        result = dict(changed=changed, changes=changes, routes=[self._report(entry) for entry in plan.resolved])
        if plan.warnings:
            result["warnings"] = plan.warnings
        if self.host.diff:
            result["diff"] = tracker.diff("source routing before" + where, "source routing after" + where)
        return result

    def _stray_vias(self, plan, profiles):
        """Who holds each rule exclusive removes: the profile that has it (NetworkManager
        takes it away at the reapply), else the kernel alone."""
        held = {}
        for profile in profiles.values():
            for rule in profile.rules():
                held.setdefault(rule_key(rule), ("networkmanager", (profile.uuid, profile.name)))
        for action in plan.actions:
            if action["owner"] not in self.vias:
                self.vias[action["owner"]] = held.get(rule_key(action["item"]), ("kernel", None)) \
                    if action["op"] == "delete_rule" else ("kernel", None)

    def _report(self, entry):
        via, profile = self.vias[entry["address"]]
        return dict(address=entry["address"], gateway=entry["gateway"], dev=entry["dev"], table=entry["table"],
                    priority=entry["priority"], family=family_name(entry["family"]), via=via,
                    profile=profile[1] if profile else None, prefix=entry.get("prefix"))

    def _apply(self, plan, kernel_actions, nm_kernel_actions, profile_plans):
        self.done = apply_actions(self.backend, kernel_actions)
        try:
            for profile, values, lines, reapply in profile_plans:
                if lines:
                    self.client.write_profile(profile, values)
                    self.written.append((profile, values))
                if reapply:
                    self.client.reapply(profile.dev)
            after = self._wait_for(kernel_actions + nm_kernel_actions, bool(profile_plans))
            # What NetworkManager did not remove (a rule or route made by a run with
            # via=kernel before) goes through ip.
            leftovers = [a for a in nm_kernel_actions if a["op"].startswith("delete") and not action_holds(after, a)]
            if leftovers:
                self.done += apply_actions(self.backend, leftovers)
                after = read_host(self.backend)
            problems = ["'%s' did not take effect" % a["line"] for a in kernel_actions + nm_kernel_actions
                        if not action_holds(after, a)]
            if problems:
                raise MptcpError("after applying, the kernel shows otherwise: %s" % "; ".join(problems))
            return after
        except MptcpError as error:
            notes = self._restore_profiles()
            if self.done or not notes:
                notes.append(routing_batch(self.backend).undo_and_summarize(self.done))
            raise MptcpError("%s. %s" % (("%s" % error).rstrip("."), " ".join(notes)))

    def _wait_for(self, actions, through_nm):
        deadline = time.monotonic() + (VERIFY_TIMEOUT if through_nm else 0)
        while True:
            after = read_host(self.backend)
            if all(action_holds(after, a) for a in actions) or time.monotonic() >= deadline:
                return after
            time.sleep(VERIFY_INTERVAL)

    def _set_back(self, profile, written):
        self.client.write_profile(profile, profile.values, current=written)
        self.client.reapply(profile.dev)

    def _restore_profiles(self):
        """Write the profiles written back as they were and reapply them; one sentence each."""
        notes = []
        for profile, written in reversed(self.written):
            try:
                self._set_back(profile, written)
                notes.append("Profile %s was set back as it was and reapplied." % profile.name)
            except MptcpError as error:
                notes.append("PROFILE %s COULD NOT BE SET BACK: %s." % (profile.name, ("%s" % error).rstrip(".")))
        return notes

    def undo(self):
        """Undo what a run that succeeded did (mptcp_host, when a later part of its batch is
        refused), under the same locks: the profiles set back, the kernel's steps undone.
        Returns the problems met (empty: all undone)."""
        problems = []
        with lock_for(self.request.netns, self.netns_file, False):
            with HostLock(NM_CONFIG_DIR, "NetworkManager's profiles", shared=False) if self.written else NoLock():
                for profile, written in reversed(self.written):
                    try:
                        self._set_back(profile, written)
                    except MptcpError as error:
                        problems.append("profile %s: %s" % (profile.name, error))
                problems += routing_batch(self.backend).undo(self.done)
        return problems


def ensure_source_routing(params, check_mode, host):
    """mptcp_source_routing."""
    return Run(Request(params), check_mode, host).run()
