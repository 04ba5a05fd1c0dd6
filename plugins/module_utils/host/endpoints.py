# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role makes of its endpoints (mptcp_endpoints) for the parts that take them:
the source routes of the endpoints that name a gateway, the endpoints as the path-manager
modules take them (without the routing keys), and the reverse-path filter of the
interfaces that carry endpoints. Used by mptcp_host and by the role's filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter

ROUTING_KEYS = ("gateway", "table", "priority")


def _endpoints(endpoints, name):
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise ValidationError("%s expects the role's mptcp_endpoints (a list of dicts), got %r" % (name, endpoints))
    return endpoints


def has_gateway(endpoint):
    return endpoint.get("gateway") not in (None, "")


def source_route(endpoint):
    """The route of one endpoint with a gateway, as mptcp_source_routing takes it; dev is
    None where it is missing, for the module's rules to refuse."""
    route = {"address": endpoint.get("address"), "gateway": endpoint["gateway"], "dev": endpoint.get("dev") or None}
    for key in ("table", "priority"):
        if endpoint.get(key) not in (None, ""):
            route[key] = endpoint[key]
    return route


def source_routes(endpoints):
    """[route]: one per endpoint that names a gateway, in the order of the endpoints."""
    return [source_route(e) for e in _endpoints(endpoints, "source_routes") if has_gateway(e)]


def path_manager_endpoints(endpoints):
    """The endpoints without their routing keys."""
    return [dict((k, v) for k, v in e.items() if k not in ROUTING_KEYS)
            for e in _endpoints(endpoints, "path_manager_endpoints")]


def endpoint_devices(endpoints):
    devices = []
    for endpoint in _endpoints(endpoints, "endpoint_devices"):
        dev = endpoint.get("dev")
        if dev and dev not in devices:
            devices.append(dev)
    return devices


def rp_filter_settings(report, endpoints):
    """{net.ipv4.conf.DEV.rp_filter: 2} for each interface that carries an endpoint where
    the kernel filters strictly (effective 1), and where DEV's own 2 is what keeps it loose
    (all=1), so that the key stays in the role's file, comes back at boot, and a second run
    finds nothing to do (after the first, all=1 with DEV=2 is effective 2). Where all is 0
    or 2 and DEV is 2 already (systemd's default on Debian, every interface 2), nothing
    depends on the role: the host is left as it is. An interface the report lacks (not on
    the host) is left to the path manager's error."""
    settings = {}
    for dev in endpoint_devices(endpoints):
        entry = (report or {}).get(dev)
        if entry and (entry["effective"] == rp_filter.STRICT
                      or (entry["all"] == rp_filter.STRICT and entry["dev"] == rp_filter.LOOSE)):
            settings[rp_filter.key_of(dev)] = rp_filter.LOOSE
    return settings


def strict_rp_filter(report, endpoints):
    """The interfaces that carry endpoints and filter strictly, in the endpoints' order."""
    return [dev for dev in endpoint_devices(endpoints) if ((report or {}).get(dev) or {}).get("strict")]
