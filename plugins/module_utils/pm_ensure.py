# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_limits and mptcp_endpoint do, without Ansible around it: read, plan, apply
unless in check mode, read back and check that the kernel holds what was planned (it
silently drops flag bits it does not know), else undo the batch."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.netns import netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.pm_backend import (
    apply_actions,
    open_module_backend,
    rollback_all,
)
from ansible_collections.mptcp.linux.plugins.module_utils.pm_model import (
    describe_endpoint,
    endpoint_key,
    is_implicit,
    sort_endpoints,
)
from ansible_collections.mptcp.linux.plugins.module_utils.pm_plan import (
    endpoints_diff,
    limits_diff,
    plan_endpoints,
    plan_limits,
)


def ensure_limits(backend, wanted, check_mode, netns=None):
    plan = plan_limits(backend.read_limits(), wanted)
    after = plan.after
    if plan.changed and not check_mode:
        done = apply_actions(backend, plan.actions)
        after = backend.read_limits()
        if after != plan.after:
            rollback_all(backend, done, "the kernel holds limits %s instead of %s" % (after, plan.after))
    return {"changed": plan.changed, "limits": after, "changes": plan.changes,
            "backend": backend.name, "diff": limits_diff(plan.before, after, netns), "warnings": []}


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


def ensure_endpoints(backend, wanted, state, exclusive, check_mode, netns=None):
    current = backend.read_endpoints()
    links = backend.links() if any(spec["dev"] for spec in wanted) else None
    plan = plan_endpoints(current, wanted, state, exclusive, backend.capabilities(), links, netns)
    after = plan.after
    if plan.changed and not check_mode:
        done = apply_actions(backend, plan.actions)
        after = sort_endpoints(backend.read_endpoints())
        mismatch = endpoints_mismatch(plan.after, after)
        if mismatch:
            rollback_all(backend, done, "after applying, the kernel shows: %s" % mismatch)
    return {"changed": plan.changed, "endpoints": after, "changes": plan.changes,
            "backend": backend.name, "diff": endpoints_diff(plan.before, after, netns),
            "warnings": plan.warnings}


def path_manager_lock(netns, check_mode):
    """The namespace's path manager, for one run at a time (check mode: shared)."""
    if netns:
        return HostLock(netns_path(netns), "the MPTCP path manager of netns %s" % netns, shared=check_mode)
    return HostLock("/proc/self/ns/net", "the MPTCP path manager of this network namespace", shared=check_mode)


def run_module(module, work):
    """Open the backend the module's options ask for, run work(backend) holding the
    namespace's lock and exit with its result, or fail with one clear message."""
    backend = None
    try:
        backend = open_module_backend(module)
        with path_manager_lock(module.params.get("netns"), module.check_mode):
            result = work(backend)
    except MptcpError as exc:
        module.fail_json(msg="%s" % exc, backend=backend.name if backend else None)
    finally:
        if backend is not None:
            backend.close()
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)
