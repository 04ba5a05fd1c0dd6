# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parts mptcp_host converges, in order, each through the ensure code of its own
module (the same parameters that module would get from the role), and how each is undone
when a later part is refused.

present: sysctl (net.mptcp and the endpoints' rp_filter), NetworkManager's flags (before
the endpoints: NetworkManager removes the endpoint of an address it stops managing, which
must not be one just set), the source routes (before the endpoints: a subflow's first
packet finds its gateway), the path manager's limits and endpoints, then the boot unit
and the drop-ins (last: the unit holds the routes the routing part keeps in the kernel),
then mptcp-rejoin (with rejoin; removed without it). absent: the same undone, MPTCP off
first, mptcp-rejoin removed last."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

from ansible_collections.mptcp.linux.plugins.module_utils.host.boot_unit import (
    dropin_text,
    go_tcp_only_dropin_text,
    socket_dropin_text,
    unit_text,
)
from ansible_collections.mptcp.linux.plugins.module_utils.host.endpoints import rp_filter_settings, strict_rp_filter
from ansible_collections.mptcp.linux.plugins.module_utils.host.readiness import STRICT_RP_FILTER
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.ensure import ensure as ensure_nm_flags
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import (
    endpoint_request,
    ensure_request,
    path_manager_request,
    undo_request,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import ENDPOINT_FIELDS
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin.ensure import ensure as ensure_rejoin
from ansible_collections.mptcp.linux.plugins.module_utils.routing.ensure import Request as RoutingRequest, Run as RoutingRun
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.ensure import ensure as ensure_sysctl
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.undo import SysctlBefore
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.ensure import ensure as ensure_systemd


class Part:
    """One part: `params(request, readiness, results)` gives its module's parameters (None:
    nothing to do on this host), from the results of the parts before it; `run(params,
    check_mode, host)` gives (result, undo), undo() -> problems, None where nothing changed."""

    def __init__(self, name, module, params, run):
        self.name = name
        self.module = module
        self.params = params
        self.run = run


# --- running each module's ensure code --------------------------------------------------

def run_sysctl(params, check_mode, host):
    before = None if check_mode else SysctlBefore(params)
    result = ensure_sysctl(params, check_mode, host)
    return result, (lambda: before.restore(host)) if before and result["changed"] else None


def run_nm_flags(params, check_mode, host):
    result = ensure_nm_flags(params, check_mode, host)
    if check_mode or not result["changed"]:
        return result, None
    back = dict(params, profiles=[dict(name=p["uuid"], flags=p["flags_before"]) for p in result["profiles"]])

    def undo():
        ensure_nm_flags(back, False, host)
        return []
    return result, undo


def run_routing(params, check_mode, host):
    run = RoutingRun(RoutingRequest(params), check_mode, host)
    result = run.run()
    return result, run.undo if result["changed"] and not check_mode else None


def _run_path_manager(make_request):
    def run(params, check_mode, host):
        request = make_request(params)
        done = []
        result = ensure_request(request, check_mode, host, done_out=done)
        return result, (lambda: undo_request(request, done, host)) if done else None
    return run


def run_systemd(params, check_mode, host):
    put_back = []
    result = ensure_systemd(params, check_mode, host, put_back_out=put_back)
    return result, put_back[0].run if put_back else None


def run_rejoin(params, check_mode, host):
    # Last in both orders: nothing after it can be refused, so it is never undone.
    return ensure_rejoin(params, check_mode, host), None


# --- the parameters of each part ---------------------------------------------------------

def sysctl_present(request, readiness, results):
    rp_filter = rp_filter_settings(readiness.rp_filter, request.endpoints) if request.rp_filter == "loose" else {}
    return dict(settings=dict(request.sysctl, **rp_filter), state="present", runtime=True, persist=True,
                path=request.sysctl_path)


def nm_flags(request, readiness, results, flags=None):
    if not request.nm_profiles:
        return None
    profiles = [dict(name=p["name"], flags=p["flags"] if flags is None else flags) for p in request.nm_profiles]
    return dict(name=None, flags=None, profiles=profiles, apply="reapply")


def routing(request, readiness, results, state="present"):
    if state == "absent" and not request.routes:
        return None
    # present: on every run, with no gateway too, so that the rule and table of an
    # endpoint that lost its gateway, or was dropped, go.
    return dict(routes=request.routes, state=state, exclusive=state == "present", via=request.routing_via,
                table_range=request.table_range, priority_range=request.priority_range, netns=None)


def path_manager(request, readiness, results):
    if not request.sets_path_manager:
        return None
    return dict(limits=request.limits or None, endpoints=request.pm_endpoints or None, exclusive=request.exclusive,
                netns=None, backend="auto")


def _boot_routes(results):
    routing_result = results.get("routing")
    return [route for route in (routing_result or {}).get("routes", []) if route["via"] == "kernel"]


def systemd_present(request, readiness, results):
    unit = dict(name=request.unit_name, enabled=True, state="absent", content=None)
    if request.persists_path_manager:
        unit.update(state="present", content=unit_text(readiness.ip, request.limits, request.pm_endpoints,
                                                       request.exclusive, _boot_routes(results),
                                                       request.preload_services))
    dropin = None
    # Where the library is still unknown (check mode on a host that lacks the package)
    # the drop-ins are left as they are: the package step reports that.
    if not request.preload_services or request.library_allowed(readiness.library):
        # One drop-in name for every unit, each with the text of its way onto MPTCP (or
        # off it): the preload for services, SocketProtocol=mptcp for socket units (the
        # readiness checked systemd's version), GODEBUG for Go services kept on TCP.
        contents = dict((unit, socket_dropin_text()) for unit in request.socket_units)
        contents.update((unit, go_tcp_only_dropin_text()) for unit in request.go_tcp_only)
        dropin = dict(name=request.dropin_name, services=request.preload_services, contents=contents,
                      content=dropin_text(request.unit_name, readiness.library) if request.preload_services else None)
    return dict(unit=unit, dropin=dropin, unit_dir=request.unit_dir, daemon_reload=True)


def rejoin(request, readiness, results, state=None):
    """mptcp-rejoin: present where the request asks for it, else removed (where it is)."""
    wanted = state or ("present" if request.rejoin else "absent")
    # The Python that runs this module runs the daemon: the one Ansible found on the host.
    return dict(state=wanted, program=request.rejoin_program, config=request.rejoin_config, unit_dir=request.unit_dir,
                python=sys.executable, ip=readiness.ip, endpoints=request.pm_endpoints, after=request.unit_name)


def sysctl_off(request, readiness, results):
    if not readiness.supported:
        return None
    return dict(settings={"enabled": 0}, state="present", runtime=True, persist=True, path=request.sysctl_path)


def sysctl_others_absent(request, readiness, results):
    # `persisted` names net.mptcp keys by their short name.
    others = dict((key, value) for key, value in ((results.get("sysctl") or {}).get("persisted") or {}).items()
                  if key != "enabled")
    if not readiness.supported or not others:
        return None
    return dict(settings=others, state="absent", runtime=True, persist=True, path=request.sysctl_path)


def endpoints_absent(request, readiness, results):
    if not readiness.supported or not (request.endpoints or request.exclusive):
        return None
    params = dict((field, None) for field in ENDPOINT_FIELDS)
    params.update(endpoints=[] if request.exclusive else request.pm_endpoints, exclusive=request.exclusive,
                  state="present" if request.exclusive else "absent", netns=None, backend="auto")
    return params


def systemd_absent(request, readiness, results):
    return dict(unit=dict(name=request.unit_name, state="absent", enabled=True, content=None),
                dropin=dict(name=request.dropin_name, services=[], content=None, contents=None), unit_dir=request.unit_dir,
                daemon_reload=True)


PRESENT = (
    Part("sysctl", "mptcp.linux.mptcp_sysctl", sysctl_present, run_sysctl),
    Part("networkmanager", "mptcp.linux.nm_mptcp_flags", nm_flags, run_nm_flags),
    Part("routing", "mptcp.linux.mptcp_source_routing", routing, run_routing),
    Part("path_manager", "mptcp.linux.mptcp_path_manager", path_manager, _run_path_manager(path_manager_request)),
    Part("systemd", "mptcp.linux.mptcp_systemd", systemd_present, run_systemd),
    Part("rejoin", "mptcp.linux.mptcp_host", rejoin, run_rejoin),
)
ABSENT = (
    Part("sysctl", "mptcp.linux.mptcp_sysctl", sysctl_off, run_sysctl),
    Part("sysctl_file", "mptcp.linux.mptcp_sysctl", sysctl_others_absent, run_sysctl),
    Part("endpoints", "mptcp.linux.mptcp_endpoint", endpoints_absent, _run_path_manager(endpoint_request)),
    Part("routing", "mptcp.linux.mptcp_source_routing", lambda r, h, res: routing(r, h, res, "absent"), run_routing),
    Part("networkmanager", "mptcp.linux.nm_mptcp_flags", lambda r, h, res: nm_flags(r, h, res, []), run_nm_flags),
    Part("systemd", "mptcp.linux.mptcp_systemd", systemd_absent, run_systemd),
    Part("rejoin", "mptcp.linux.mptcp_host", lambda r, h, res: rejoin(r, h, res, "absent"), run_rejoin),
)


def strict_rp_filter_warning(request, readiness):
    """With rp_filter leave, the endpoints' interfaces left strict, in one warning (or None)."""
    if request.state != "present" or request.rp_filter != "leave":
        return None
    strict = strict_rp_filter(readiness.rp_filter, request.endpoints)
    return STRICT_RP_FILTER % (", ".join(strict), request.host_name) if strict else None
