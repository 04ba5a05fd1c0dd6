# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_path_manager, mptcp_limits and mptcp_endpoint do, without Ansible around it:
read, plan, apply unless in check mode, read back and check that the kernel holds what was
planned (it silently drops flag bits it does not know), else undo the batch."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.netns import netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import (
    apply_actions,
    choose_host_backend,
    rollback_all,
    undo_actions,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    ENDPOINT_FIELDS,
    describe_endpoint,
    endpoint_key,
    is_implicit,
    sort_endpoints,
    validate_endpoints,
    validate_limits,
    validate_limits_option,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.plan import (
    path_manager_diff,
    plan_endpoints,
    plan_limits,
)


def endpoints_mismatch(planned, actual):
    """Why the endpoints read back differ from the plan, or None. An id the kernel was to
    choose matches any id; implicit endpoints the kernel made meanwhile are not ours."""
    actual_by_key = dict((endpoint_key(e), e) for e in actual)
    problems = []
    for want in planned:
        got = actual_by_key.pop(endpoint_key(want), None)
        if got is None:
            problems.append("%s is missing" % describe_endpoint(want))
            continue
        if want["id"] is None:
            got = dict(got, id=None)
        if got != want:
            lost = [name for name in want["flags"] if name not in got["flags"]]
            hint = " (it dropped flag %s, which this kernel does not know)" % ", ".join(lost) if lost else ""
            problems.append("%s instead of %s%s" % (describe_endpoint(got), describe_endpoint(want), hint))
    problems.extend("%s appeared" % describe_endpoint(e) for e in actual_by_key.values() if not is_implicit(e))
    return "; ".join(problems) or None


def ensure_path_manager(backend, check_mode, netns=None, limits=None, endpoints=None, state="present",
                        exclusive=False, current_endpoints=None, done_out=None):
    """limits: the limits wanted (validated; None leaves them alone); endpoints: the
    endpoints wanted (validated; None leaves them alone), to be `state`, the others removed
    where `exclusive`. Limits and endpoints are one batch: a refusal or a read-back that
    differs from the plan undoes both. current_endpoints: the endpoints the backend read
    under the same lock already (when choosing it), else None: read them. done_out: a list
    that gets the actions done, for mptcp_host to undo them when a later part is refused."""
    limits_plan = endpoints_plan = None
    if limits is not None:
        limits_plan = plan_limits(backend.read_limits(), limits)
    if endpoints is not None:
        links = backend.links() if any(spec["dev"] for spec in endpoints) else None
        if current_endpoints is None:
            current_endpoints = backend.read_endpoints()
        endpoints_plan = plan_endpoints(current_endpoints, endpoints, state, exclusive,
                                        backend.capabilities(), links, netns)
    plans = [plan for plan in (limits_plan, endpoints_plan) if plan is not None]
    actions = [action for plan in plans for action in plan.actions]
    # What a real run leaves: the plan's, read back from the kernel once applied.
    after = dict((name, plan.after) for name, plan in (("limits", limits_plan), ("endpoints", endpoints_plan))
                 if plan is not None)
    if actions and not check_mode:
        done = apply_actions(backend, actions)
        problems = []
        if limits_plan is not None:
            after["limits"] = backend.read_limits()
            if after["limits"] != limits_plan.after:
                problems.append("the kernel holds limits %s instead of %s" % (after["limits"], limits_plan.after))
        if endpoints_plan is not None:
            after["endpoints"] = sort_endpoints(backend.read_endpoints())
            mismatch = endpoints_mismatch(endpoints_plan.after, after["endpoints"])
            if mismatch:
                problems.append("after applying, the kernel shows: %s" % mismatch)
        if problems:
            rollback_all(backend, done, "; ".join(problems))
        if done_out is not None:
            done_out.extend(done)
    diff = path_manager_diff(netns, limits_plan.before if limits_plan else None, after.get("limits"),
                             endpoints_plan.before if endpoints_plan else None, after.get("endpoints"))
    return dict(after, changed=bool(actions), changes=[action["line"] for action in actions], backend=backend.name,
                warnings=[warning for plan in plans for warning in plan.warnings], diff=diff)


def ensure_limits(backend, wanted, check_mode, netns=None):
    return ensure_path_manager(backend, check_mode, netns, limits=wanted)


def ensure_endpoints(backend, wanted, state, exclusive, check_mode, netns=None):
    return ensure_path_manager(backend, check_mode, netns, endpoints=wanted, state=state, exclusive=exclusive)


def endpoint_flags_needed(endpoints, state):
    """The flags a run writes on endpoints, for choosing the backend (path_manager/backend.py, choose_backend):
    None where it touches no endpoint, none where it only deletes (state=absent)."""
    if endpoints is None:
        return None
    if state == "absent":
        return set()
    return set(name for spec in endpoints for name in (spec["flags"] or ()))


def path_manager_lock(netns, check_mode, netns_file=None):
    """The namespace's path manager, for one run at a time (check mode: shared).
    netns_file: the namespace's bind mount, where resolved already."""
    if netns:
        return HostLock(netns_file or netns_path(netns), "the MPTCP path manager of netns %s" % netns,
                        shared=check_mode)
    return HostLock("/proc/self/ns/net", "the MPTCP path manager of this network namespace", shared=check_mode)


class Request:
    """A path-manager run, validated: the limits and endpoints wanted (None leaves them
    alone), their state, exclusive, the namespace and the backend asked for."""

    def __init__(self, params, limits=None, endpoints=None, state="present", exclusive=False):
        self.limits = limits
        self.endpoints = endpoints
        self.state = state
        self.exclusive = exclusive
        self.netns = params.get("netns")
        self.backend = params["backend"]
        self.endpoint_flags = endpoint_flags_needed(endpoints, state)


def limits_request(params):
    return Request(params, limits=validate_limits(params["subflows"], params["add_addr_accepted"]))


def endpoint_request(params):
    if params["exclusive"] and params["state"] == "absent":
        raise ValidationError("exclusive=true only applies to state=present (it removes "
                              "every endpoint not listed)")
    if params["endpoints"] is not None:
        wanted = validate_endpoints(params["endpoints"], params["state"])
    else:
        single = dict((field, params[field]) for field in ENDPOINT_FIELDS)
        wanted = validate_endpoints([single], params["state"], labelled=False)
    return Request(params, endpoints=wanted, state=params["state"], exclusive=params["exclusive"])


def path_manager_request(params):
    limits = validate_limits_option(params["limits"]) if params["limits"] is not None else None
    endpoints = params["endpoints"]
    if endpoints is None and params["exclusive"]:
        endpoints = []
    endpoints = validate_endpoints(endpoints, "present") if endpoints is not None else None
    return Request(params, limits=limits, endpoints=endpoints, exclusive=params["exclusive"])


def ensure_request(request, check_mode, host, done_out=None):
    """Open the backend the request asks for and run it, holding the namespace's lock;
    a failure names the backend that was used."""
    backend = None
    try:
        # The namespace is resolved once: the lock and the backend use its bind mount.
        netns_file = netns_path(request.netns) if request.netns else None
        # The backend is chosen under the lock too: auto reads the endpoints to choose,
        # and the plan starts from what it read.
        with path_manager_lock(request.netns, check_mode, netns_file):
            backend, current = choose_host_backend(host, request.backend, request.netns,
                                                   request.endpoint_flags, netns_file)
            return ensure_path_manager(backend, check_mode, request.netns, limits=request.limits,
                                       endpoints=request.endpoints, state=request.state,
                                       exclusive=request.exclusive, current_endpoints=current, done_out=done_out)
    except MptcpError as exc:
        exc.details["backend"] = backend.name if backend else None
        raise
    finally:
        if backend is not None:
            backend.close()


def undo_request(request, done, host):
    """Undo the actions a request did (`done`, from ensure_request's done_out), under the
    namespace's lock; returns the problems met (empty: all undone)."""
    netns_file = netns_path(request.netns) if request.netns else None
    with path_manager_lock(request.netns, False, netns_file):
        backend, _current = choose_host_backend(host, request.backend, request.netns, request.endpoint_flags, netns_file)
        try:
            return undo_actions(backend, done)
        finally:
            backend.close()


def ensure_limits_module(params, check_mode, host):
    """mptcp_limits."""
    return ensure_request(limits_request(params), check_mode, host)


def ensure_endpoint_module(params, check_mode, host):
    """mptcp_endpoint."""
    return ensure_request(endpoint_request(params), check_mode, host)


def ensure_path_manager_module(params, check_mode, host):
    """mptcp_path_manager."""
    return ensure_request(path_manager_request(params), check_mode, host)
