# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's variables checked with the modules' own rules, all problems at once, before
anything on a host changes: on the controller (the role's filter role_problems) and again
in mptcp_host, which also knows the host's NetworkManager profiles."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.validation import check_type_int

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host.endpoints import has_gateway, source_route
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply import validate_request
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import find_profile
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import MAX_ENDPOINTS, validate_endpoints, validate_limits
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    validate_priority_range,
    validate_routes,
    validate_table_range,
)
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import check_unit_name, service_unit


def _problem(problems, check, *args):
    try:
        check(*args)
    except ValidationError as exc:
        problems.append("%s" % exc)


def _as_module_int(value):
    """What a module's `type: int` makes of a value (templated variables are strings:
    "{{ 0 if server else 1 }}" gives '1'), or the value as it is, for the check to name."""
    if value is None or isinstance(value, bool):
        return value
    try:
        return check_type_int(value)
    except TypeError:
        return value


def _limits(limits):
    try:
        validate_limits(_as_module_int(limits.get("subflows")), _as_module_int(limits.get("add_addr_accepted")))
    except ValidationError as exc:
        raise ValidationError("mptcp_limits.%s" % exc)


def _endpoints(endpoints):
    if len(endpoints) > MAX_ENDPOINTS:
        raise ValidationError("mptcp_endpoints lists %d endpoints; the kernel allows at most %d per "
                              "namespace" % (len(endpoints), MAX_ENDPOINTS))
    endpoints = [dict(e, **dict((k, _as_module_int(e[k])) for k in ("id", "port") if k in e))
                 if isinstance(e, dict) else e for e in endpoints]
    try:
        validate_endpoints(endpoints, "present")
    except ValidationError as exc:
        raise ValidationError("mptcp_%s" % exc)


def _ranges(variables):
    """The ranges the routing module picks tables and priorities from, with its rules."""
    problems = []
    for name, check in (("mptcp_routing_table_range", validate_table_range),
                        ("mptcp_routing_priority_range", validate_priority_range)):
        if variables.get(name) is None:
            continue
        try:
            check(variables[name])
        except ValidationError as exc:
            problems.append("%s: %s" % (name, exc))
    return problems


def _routes(endpoints):
    """The source routes of the endpoints that name a gateway, with the routing module's
    own rules (a gateway needs dev, and must be of the address's family), each named by
    its endpoint; then all of them together (what one route alone cannot show)."""
    if not isinstance(endpoints, list):
        return []
    problems = []
    routes = []
    for index, endpoint in enumerate(endpoints):
        if not isinstance(endpoint, dict):
            continue
        label = "mptcp_endpoints[%d] (%s)" % (index, endpoint.get("address"))
        if not has_gateway(endpoint):
            given = [key for key in ("table", "priority") if endpoint.get(key) not in (None, "")]
            if given:
                problems.append("%s: %s set without gateway; they choose the routing table and rule of the "
                                "endpoint's gateway: give gateway, or leave them out" % (label, " and ".join(given)))
            continue
        route = dict((k, _as_module_int(v) if k in ("table", "priority") else v)
                     for k, v in source_route(endpoint).items())
        try:
            validate_routes([route])
        except ValidationError as exc:
            problems.append("%s: %s" % (label, _without_index(exc)))
            continue
        routes.append(route)
    if not problems and routes:
        try:
            validate_routes(routes)
        except ValidationError as exc:
            problems.append("mptcp_endpoints' gateways: %s" % exc)
    return problems


def _without_index(exc):
    """The routing module's message about routes[0], said of the endpoint instead."""
    return ("%s" % exc).replace("routes[0].", "")


def _nm_profiles(profiles, facts, host):
    problems = []
    seen = set()
    for index, profile in enumerate(profiles):
        name = profile.get("name")
        label = "mptcp_nm_profiles[%d] (%r)" % (index, name)
        if name and name in seen:
            problems.append("%s: the profile is listed twice" % label)
        seen.add(name)
        _problem(problems, validate_request, profile, label)
    if problems:
        return problems
    return nm_profile_problems(profiles, facts, host)


def nm_profile_problems(profiles, facts, host):
    """The profiles looked up among the host's (facts: what mptcp_facts' nm subset read)."""
    if not profiles or not facts or "nm_profiles" not in facts:
        return []
    problems = []
    unavailable = facts.get("unavailable", {}).get("nm_profiles")
    if unavailable:
        return ["mptcp_nm_profiles lists %s, but %s cannot tell its profiles: %s"
                % (", ".join(p["name"] for p in profiles), host, unavailable)]
    for index, profile in enumerate(profiles):
        try:
            find_profile(facts["nm_profiles"], profile["name"])
        except ValidationError as exc:
            problems.append("mptcp_nm_profiles[%d] on %s: %s" % (index, host, exc))
    return problems


def _services(services):
    problems = []
    for index, service in enumerate(services):
        _problem(problems, check_unit_name, service_unit(service), "mptcp_mptcpize_services[%d]" % index)
    return problems


def _go_services(go_services, services):
    """Go services kept on TCP: services (a socket unit's listener is systemd's, which
    GODEBUG does not reach), and not also moved onto MPTCP."""
    problems = []
    moved = set(service_unit(service) for service in services if isinstance(service, str))
    for index, service in enumerate(go_services):
        label = "mptcp_go_services_tcp_only[%d]" % index
        unit = service_unit(service) if isinstance(service, str) else service
        before = len(problems)
        _problem(problems, check_unit_name, unit, label)
        if len(problems) > before:
            continue
        if not unit.endswith(".service"):
            problems.append("%s=%r: GODEBUG=multipathtcp=0 is read by the Go program a service runs; a %s unit "
                            "runs none (a socket unit's listener is made by systemd, and GODEBUG does not reach "
                            "it): list the service" % (label, unit, unit.rsplit(".", 1)[1]))
        elif unit in moved:
            problems.append("%s=%r is also in mptcp_mptcpize_services: a unit is moved onto MPTCP or kept on TCP, "
                            "not both (the preload does not reach Go programs, which make their sockets without "
                            "the C library)" % (label, unit))
    return problems


def role_problems(variables, facts=None, host="this host"):
    """variables: the role's mptcp_limits, mptcp_endpoints, mptcp_nm_profiles,
    mptcp_mptcpize_services, mptcp_go_services_tcp_only and the routing ranges; facts: what mptcp_facts found (its nm_profiles, when read)."""
    if not isinstance(variables, dict):
        raise ValidationError("role_problems expects a dict of the role's variables, got %r" % (variables,))
    problems = []
    _problem(problems, _limits, variables.get("mptcp_limits") or {})
    _problem(problems, _endpoints, variables.get("mptcp_endpoints") or [])
    problems += _routes(variables.get("mptcp_endpoints") or [])
    problems += _ranges(variables)
    problems += _nm_profiles(variables.get("mptcp_nm_profiles") or [], facts, host)
    problems += _services(variables.get("mptcp_mptcpize_services") or [])
    problems += _go_services(variables.get("mptcp_go_services_tcp_only") or [],
                             variables.get("mptcp_mptcpize_services") or [])
    return problems
