# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The endpoints NetworkManager sets itself: one per address of each active profile whose
connection.mptcp-flags do not say disabled, with the profile's endpoint flags and `dev`.

The kernel keeps no owner with an endpoint, so NetworkManager's are told from others by
what NetworkManager would make: its rules (NetworkManager's documentation of
connection.mptcp-flags, and seen on NM 1.42 and 1.52 in the lab): only while
net.mptcp.enabled is 1 (unless also-without-sysctl), only for an address family with a
default route on the device (unless also-without-default-route; the main table is looked
at), never for loopback, link-local, ULA (fc00::/7) or temporary IPv6 addresses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import (
    effective,
    endpoint_flags,
)

FAMILIES = {"inet": 4, "inet6": 6}


def _json(run, argv, what):
    rc, out, err = run(argv)
    if rc != 0:
        raise MptcpError("%s failed: %s exited %d: %s" % (what, " ".join(argv), rc, (err or out or "").strip()))
    try:
        return json.loads(out or "[]")
    except ValueError:
        raise MptcpError("%s: cannot read the JSON of %s" % (what, " ".join(argv)))


def read_addresses(run, ip):
    """{device: [{address, family, temporary}]} of `ip -j addr show`."""
    found = {}
    for link in _json(run, [ip, "-j", "addr", "show"], "listing the addresses"):
        for info in link.get("addr_info") or []:
            if info.get("family") in FAMILIES and info.get("local"):
                found.setdefault(link.get("ifname"), []).append({
                    "address": info["local"], "family": FAMILIES[info["family"]],
                    "temporary": bool(info.get("temporary"))})
    return found


def read_default_routes(run, ip):
    """{(family, device)} with a default route in the main table."""
    found = set()
    for family in (4, 6):
        for route in _json(run, [ip, "-j", "-%d" % family, "route", "show", "default"], "listing the default routes"):
            if route.get("dev"):
                found.add((family, route["dev"]))
    return found


def skipped(address):
    """Why NetworkManager makes no endpoint for this address, or None."""
    ip = ipaddress.ip_address(u"%s" % address)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.version == 6 and ip in ipaddress.ip_network(u"fc00::/7"):
        return "ULA"
    return None


def nm_endpoints(profiles, addresses, default_routes, mptcp_enabled, default_flags=None, version=None):
    """[{address, dev, profile, uuid, flags}]: the endpoints NetworkManager sets for the
    active profiles (mptcp_info's nm_profiles), given the devices' addresses, the default
    routes and net.mptcp.enabled. `version`, NetworkManager's (a tuple), picks its built-in
    default for a profile at 0: from 1.56 on it makes `subflow laminar` endpoints."""
    endpoints = []
    for profile in profiles:
        flags = effective(frozenset(profile.get("mptcp_flags") or ()), default_flags, version)
        made = endpoint_flags(flags)
        if made is None:
            continue
        if mptcp_enabled != 1 and "also-without-sysctl" not in flags:
            continue
        for device in profile.get("devices") or []:
            for entry in addresses.get(device, []):
                if entry["temporary"] or skipped(entry["address"]):
                    continue
                if (entry["family"], device) not in default_routes and "also-without-default-route" not in flags:
                    continue
                endpoints.append({"address": entry["address"], "dev": device, "profile": profile["name"],
                                  "uuid": profile["uuid"], "flags": made})
    return endpoints
