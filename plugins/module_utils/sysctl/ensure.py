# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_sysctl does: under the lock of the owned file, read /proc/sys/net/mptcp and
the file, validate, plan, warn about files that override ours, apply unless in check mode
and read the runtime back (apply_plan rolls the runtime back when the file cannot be
written)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import read_text
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import OwnedFile, check_path
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import interface_keys, validate_settings
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.plan import (
    apply_plan,
    check_modes,
    plan_changes,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.precedence import (
    describe_conflict,
    find_conflicts,
    not_read_at_boot,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import read_snapshot


def ensure(params, check_mode, host):
    state, runtime, persist, path = (params["state"], params["runtime"], params["persist"],
                                     params["path"])
    check_modes(state, runtime, persist)
    check_path(path)
    # One run at a time changes the file (each rewrites it whole from what it read).
    with HostLock(os.path.dirname(path), path, shared=check_mode):
        return _ensure_locked(params, check_mode, host)


def _ensure_locked(params, check_mode, host):
    state, runtime, persist, path = (params["state"], params["runtime"], params["persist"],
                                     params["path"])
    asked = interface_keys(params["settings"])
    snapshot = read_snapshot(interface_keys=asked)
    owned = OwnedFile(path, read_text(path))
    owned.check_ours()
    wanted = validate_settings(params["settings"], state, snapshot,
                               persisted=owned.managed_values())
    plan = plan_changes(wanted, state, runtime, persist, snapshot, owned)

    conflicts = []
    if state == "present":
        planned = {path: plan.file_text_after} if persist else {}
        owned_path = path if persist else None
        conflicts = find_conflicts(wanted, planned=planned, owned_path=owned_path)
        for conflict in conflicts:
            host.warn(describe_conflict(conflict, owned_path))
        if persist and plan.file_text_after is not None:
            reason = not_read_at_boot(path, planned=planned)
            if reason:
                host.warn("%s is not read at boot: %s" % (path, reason))

    runtime_after = plan.runtime_after(snapshot)
    if plan.changed and not check_mode:
        apply_plan(plan, snapshot, host)
        runtime_after = read_snapshot(interface_keys=asked).normalised()

    result = dict(changed=plan.changed, runtime=runtime_after, persisted=plan.persisted(),
                  conflicts=conflicts)
    if host.diff:
        result["diff"] = plan.diff(runtime and state == "present", persist)
    return result
