# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy of nm_mptcp_flags: from the flags asked for and what NetworkManager holds,
what to write and where to apply it; then doing that, with the warnings and the check of
the endpoints that follow.

A profile's state is two flag sets: the saved profile's, and the one each device it is
active on runs (NetworkManager's applied connection). A task changes something only when
one of these sets differs from the one asked for (the device's only when applying)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import time

from ansible_collections.mptcp.linux.plugins.module_utils.differences import DifferenceTracker
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import find_profile
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import (
    ENDPOINT_FLAGS,
    effective,
    endpoint_flags,
    ordered,
    validate_flags,
)

APPLY_MODES = ("none", "reapply", "reactivate")
# NetworkManager 1.52 put an IPv6 endpoint in place 1-2 s after `device reapply`
# returned (IPv4 ones, and 1.42's, within 0.2 s): wait this long before saying it did not.
VERIFY_TIMEOUT = 10.0
VERIFY_INTERVAL = 0.25


def requests_from_params(name, flags, profiles):
    """The module's `name`+`flags` or `profiles` -> [(profile as given, flag set)], every
    flag set validated."""
    if profiles is None:
        profiles = [dict(name=name, flags=flags)]
    requests = []
    for index, entry in enumerate(profiles):
        given = entry.get("name")
        label = "profile %r" % (given,) if name is not None else "profiles[%d] (%r)" % (index, given)
        requests.append(validate_request(entry, label))
    return requests


def validate_request(entry, label):
    """One profile as given ({name, flags}) -> (name or UUID, flag set), or the
    ValidationError that names `label` (the role's preflight checks with it too)."""
    given = entry.get("name")
    if not given:
        raise ValidationError("%s: a profile name or UUID is required" % label)
    return given, validate_flags(entry.get("flags"), label)


def resolve(requests, profiles):
    """[(given, flags)] -> [(profile, flags)]; a profile given twice is an error."""
    resolved = []
    seen = {}
    for given, flags in requests:
        profile = find_profile(profiles, given)
        if profile["uuid"] in seen:
            raise ValidationError("profile %r (%s) is given twice, as %r and %r"
                                  % (profile["name"], profile["uuid"], seen[profile["uuid"]], given))
        seen[profile["uuid"]] = given
        resolved.append((profile, flags))
    return resolved


class ProfilePlan:
    """One profile: its flags before and wanted, the flags its devices run (a set, or
    None where unknown) and the devices to apply the wanted flags to."""

    def __init__(self, profile, wanted, before, running, apply_mode):
        self.name = profile["name"]
        self.uuid = profile["uuid"]
        self.devices = list(profile["devices"])
        self.wanted = wanted
        self.before = before
        self.running = dict(running)
        self.apply_mode = apply_mode
        self.write = before != wanted
        self.apply_devices = []
        if apply_mode != "none":
            # A device whose running flags cannot be read gets the change only when the
            # profile changes; one that runs other flags (an earlier apply=none) gets it too.
            self.apply_devices = [device for device in self.devices
                                  if self.write or running.get(device) not in (None, wanted)]
        self.label = self.name

    @property
    def changed(self):
        return self.write or bool(self.apply_devices)

    def applied_how(self):
        if not self.devices:
            return "not-active"
        return self.apply_mode if self.apply_devices else "none"

    def running_after(self):
        """{device: flag set} the devices run once the plan is done (known ones only)."""
        after = {}
        for device in self.devices:
            if device in self.apply_devices:
                after[device] = self.wanted
            elif self.running.get(device) is not None:
                after[device] = self.running[device]
        return after


def make_plans(resolved, client, apply_mode):
    plans = []
    saved = client.read_flags_of([profile["uuid"] for profile, _wanted in resolved])
    for profile, wanted in resolved:
        running = dict((device, client.applied_flags(device)) for device in profile["devices"])
        plans.append(ProfilePlan(profile, wanted, saved[profile["uuid"]], running, apply_mode))
    names = [plan.name for plan in plans]
    for plan in plans:
        if names.count(plan.name) > 1:
            plan.label = "%s (%s)" % (plan.name, plan.uuid)
    return plans


def track(plans):
    """The differences: each profile's saved flags, and the flags each of its devices runs
    where NetworkManager tells them ("PROFILE on DEVICE"), as lists in bit order."""
    tracker = DifferenceTracker()
    for plan in plans:
        tracker.add(plan.label, ordered(plan.before), ordered(plan.wanted))
        after = plan.running_after()
        for device in plan.devices:
            if plan.running.get(device) is not None:
                tracker.add("%s on %s" % (plan.label, device), ordered(plan.running[device]),
                            ordered(after[device]))
    return tracker


def _rollback_note(client, written):
    restored, failed = [], []
    for plan in reversed(written):
        try:
            client.write_flags(plan.uuid, plan.before)
            restored.append(plan.label)
        except MptcpError as error:
            failed.append("%s (%s)" % (plan.label, error))
    note = ""
    if restored:
        note += "; set back: %s" % ", ".join(restored)
    if failed:
        note += "; could NOT set back: %s" % ", ".join(failed)
    return note


def write_profiles(client, plans):
    """Save the changed profiles, all or none: a failure sets the ones written back."""
    written = []
    for plan in plans:
        if not plan.write:
            continue
        try:
            client.write_flags(plan.uuid, plan.wanted)
        except MptcpError as error:
            raise MptcpError("%s%s" % (error, _rollback_note(client, written)))
        written.append(plan)


def apply_devices(client, plans):
    for plan in plans:
        for device in plan.apply_devices:
            try:
                if plan.apply_mode == "reapply":
                    client.reapply(device)
                else:
                    client.reactivate(plan.uuid, device)
            except MptcpError as error:
                hint = (" (NetworkManager refuses to reapply some pending change of this "
                        "profile: apply=reactivate brings it up again instead)"
                        if plan.apply_mode == "reapply" else "")
                raise MptcpError("%s. Profile %s is saved with flags [%s] but %s does not run "
                                 "them yet%s" % (error, plan.label, ", ".join(ordered(plan.wanted)),
                                                 device, hint))


def condition_warnings(plan, flags, mptcp_enabled, families, default_routes):
    """Why `flags` (effective ones) cannot make endpoints now: net.mptcp.enabled=0 without
    also-without-sysctl, or an address family of the profile's devices without a default
    route and without also-without-default-route."""
    if "disabled" in flags:
        return []
    warnings = []
    if mptcp_enabled is None:
        warnings.append("profile %s: this kernel has no MPTCP (no /proc/sys/net/mptcp/enabled), "
                        "so its flags cannot take effect" % plan.label)
    elif not mptcp_enabled and "also-without-sysctl" not in flags:
        warnings.append(
            "profile %s: net.mptcp.enabled is 0, so NetworkManager configures no MPTCP "
            "endpoint for it; enable MPTCP (mptcp.linux.mptcp_sysctl) or add "
            "also-without-sysctl" % plan.label)
    for family in sorted(families):
        if not default_routes.get(family) and "also-without-default-route" not in flags:
            warnings.append(
                "profile %s: there is no IPv%d default route in the main table, so "
                "NetworkManager configures no endpoint for its IPv%d addresses; add one or "
                "add also-without-default-route" % (plan.label, family, family))
    return warnings


def expected_endpoints(addresses, flags, mptcp_enabled, default_routes):
    """{address: ip-mptcp flags, or None for no endpoint} for a device's candidate
    addresses where NetworkManager's conditions hold (others are left out: the warnings
    cover them)."""
    wanted = endpoint_flags(flags)
    expected = {}
    for address, family, candidate in addresses:
        if not candidate:
            continue
        if wanted is not None:
            if not mptcp_enabled and "also-without-sysctl" not in flags:
                continue
            if not default_routes.get(family) and "also-without-default-route" not in flags:
                continue
        expected[address] = wanted
    return expected


def _key(address):
    return ipaddress.ip_address(u"%s" % address)


def _order(address):
    key = _key(address)
    return (key.version, key)


def endpoint_problems(expected, endpoints):
    found = dict((_key(endpoint["address"]), endpoint) for endpoint in endpoints)
    problems = []
    for address in sorted(expected, key=_order):
        flags = expected[address]
        endpoint = found.get(_key(address))
        if flags is None:
            if endpoint is not None:
                problems.append("%s still has endpoint id %s" % (address, endpoint["id"]))
        elif endpoint is None:
            problems.append("%s has no endpoint (expected one with [%s])" % (address, ", ".join(flags)))
        else:
            have = [name for name in endpoint["flags"] if name in ENDPOINT_FLAGS]
            if have != flags:
                problems.append("%s has endpoint id %s with [%s], expected [%s]"
                                % (address, endpoint["id"], ", ".join(have), ", ".join(flags)))
    return problems


def wait_for_endpoints(read_endpoints, expected, timeout=VERIFY_TIMEOUT,
                       interval=VERIFY_INTERVAL, sleep=None, clock=None):
    """Read the endpoints until they are as expected or `timeout` passed: (endpoints,
    problems left)."""
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + timeout
    while True:
        endpoints = read_endpoints()
        problems = endpoint_problems(expected, endpoints)
        if not problems or clock() >= deadline:
            return endpoints, problems
        sleep(interval)


def endpoints_of(endpoints, device, addresses):
    """The endpoints on `device` or on one of its addresses."""
    own = set(_key(address) for address, _family, _candidate in addresses)
    return [endpoint for endpoint in endpoints
            if endpoint.get("dev") == device or _key(endpoint["address"]) in own]


def effective_flags(plans, client, version=None):
    """{uuid: the flags NetworkManager (of `version`) acts on once the plan is done};
    NetworkManager.conf is read only when a profile is asked to go to 0."""
    default = client.default_flags() if any(not plan.wanted for plan in plans) else None
    return dict((plan.uuid, effective(plan.wanted, default, version)) for plan in plans)


def _read_addresses(host, plans, warnings):
    """{device: its addresses}; one that cannot be read (gone since NetworkManager listed
    it) is a warning, not a failure: the profiles may already be saved and applied."""
    addresses = {}
    for plan in plans:
        for device in plan.devices:
            if device in addresses:
                continue
            try:
                addresses[device] = host.addresses(device)
            except MptcpError as error:
                warnings.append("cannot read the addresses of %s: %s" % (device, error))
                addresses[device] = []
    return addresses


def _read_endpoints(host, expected, warnings):
    """The endpoints, or None when they cannot be read (a warning says why): then nothing
    can be said about what the kernel shows."""
    try:
        if expected:
            return wait_for_endpoints(host.endpoints, expected)[0]
        return host.endpoints()
    except MptcpError as error:
        warnings.append("cannot read the MPTCP endpoints: %s" % error)
        return None


def check_outcome(plans, flags_by_uuid, host, applied):
    """After applying (or, in check mode, as things are): warnings about flags that
    cannot take effect, the endpoints of the profiles' devices, and, for the devices
    applied to now, a warning when the kernel does not show the expected endpoints."""
    warnings = []
    mptcp_enabled = host.mptcp_enabled()
    addresses = _read_addresses(host, plans, warnings)
    families = set(family for found in addresses.values()
                   for _address, family, candidate in found if candidate)
    default_routes = dict((family, host.default_route(family)) for family in sorted(families))

    expected = {}
    for plan in plans:
        flags = flags_by_uuid[plan.uuid]
        plan_families = set(family for device in plan.devices
                            for _address, family, candidate in addresses[device] if candidate)
        warnings += condition_warnings(plan, flags, mptcp_enabled, plan_families, default_routes)
        if applied:
            for device in plan.apply_devices:
                expected[(plan, device)] = expected_endpoints(addresses[device], flags,
                                                              mptcp_enabled, default_routes)
    merged = {}
    for wanted in expected.values():
        merged.update(wanted)
    endpoints = _read_endpoints(host, merged, warnings) if addresses else []
    if endpoints is None:
        # Unread is not "missing": no warning that the kernel shows no endpoint.
        expected, endpoints = {}, []
    for (plan, device), wanted in expected.items():
        problems = endpoint_problems(wanted, endpoints)
        if problems:
            warnings.append(
                "profile %s was applied to %s (%s) but after %.0f s the kernel shows: %s"
                % (plan.label, device, plan.apply_mode, VERIFY_TIMEOUT, "; ".join(problems)))

    result = []
    for plan in plans:
        for device in plan.devices:
            for endpoint in endpoints_of(endpoints, device, addresses[device]):
                result.append(dict(endpoint, profile=plan.name, device=device))
    return warnings, result


def report_profiles(plans, client, applied):
    """The `profiles` return value; after applying, what the devices run is read again
    from NetworkManager, and a device that does not run the wanted flags is a warning."""
    profiles = []
    warnings = []
    for plan in plans:
        running = plan.running_after()
        if applied:
            for device in plan.apply_devices:
                running[device] = client.applied_flags(device)
                if running[device] is not None and running[device] != plan.wanted:
                    warnings.append(
                        "profile %s: after %s, NetworkManager says %s runs [%s], not [%s]"
                        % (plan.label, plan.apply_mode, device, ", ".join(ordered(running[device])),
                           ", ".join(ordered(plan.wanted))))
        profiles.append(dict(
            name=plan.name, uuid=plan.uuid, devices=plan.devices,
            flags_before=ordered(plan.before), flags_after=ordered(plan.wanted),
            running=dict((device, ordered(flags)) for device, flags in running.items()
                         if flags is not None),
            applied=plan.applied_how()))
    return profiles, warnings
