# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_sysctl's decisions: from the validated settings, the runtime snapshot and the
owned file, what to write where (a Plan), then doing it all or nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import commit, discard, remove, stage
from ansible_collections.mptcp.linux.plugins.module_utils.differences import DifferenceTracker
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import render
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.rp_filter import is_rp_filter_key
from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import (
    PM_TYPE_PATH_MANAGER,
    full_name,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import (
    apply_values,
    rollback,
)


class Plan:
    """runtime_changes: [(short name, value)] to write to /proc, in order.
    file_text_after: the owned file's text afterwards (None: no file)."""

    def __init__(self, owned, runtime_tracker, file_tracker, runtime_changes,
                 file_entries_after, file_text_after):
        self.owned = owned
        self.runtime_tracker = runtime_tracker
        self.file_tracker = file_tracker
        self.runtime_changes = runtime_changes
        self.file_entries_after = file_entries_after
        self.file_text_after = file_text_after

    @property
    def file_changed(self):
        return self.file_tracker.changed or (
            (self.owned.text is None) != (self.file_text_after is None))

    @property
    def changed(self):
        return bool(self.runtime_changes) or self.file_changed

    def persisted(self):
        return self.owned.managed_values(self.file_entries_after)

    def runtime_after(self, snapshot):
        """The runtime values once the plan is done (what check mode reports)."""
        values = snapshot.normalised()
        for short, value in self.runtime_changes:
            values[short] = value
            # The kernel keeps pm_type and path_manager in step.
            if short == "pm_type" and "path_manager" in values:
                values["path_manager"] = PM_TYPE_PATH_MANAGER[value]
            if short == "path_manager" and "pm_type" in values:
                values["pm_type"] = dict((v, k) for k, v in PM_TYPE_PATH_MANAGER.items()).get(
                    value, values["pm_type"])
        return values

    def diff(self, runtime, persist):
        """Ansible's diff: the managed keys at runtime, and the owned file's text."""
        result = []
        if runtime:
            diff = self.runtime_tracker.diff()
            header = "runtime (/proc/sys/net/mptcp)"
            if any(is_rp_filter_key(name) for name in diff["after"]):
                header = "runtime (/proc/sys/net/mptcp, /proc/sys/net/ipv4/conf)"
            diff.update(before_header=header, after_header=header)
            result.append(diff)
        if persist:
            result.append({"before": self.owned.text or "", "after": self.file_text_after or "",
                           "before_header": self.owned.path, "after_header": self.owned.path})
        return result


def check_modes(state, runtime, persist):
    """The combination of state, runtime and persist must leave something to do."""
    if state == "absent" and not persist:
        raise ValidationError("state=absent drops keys from the persisted file and leaves "
                              "runtime values alone: with persist=false it has nothing to do")
    if not runtime and not persist:
        raise ValidationError("runtime=false and persist=false: nothing to apply")


def plan_changes(wanted, state, runtime, persist, snapshot, owned):
    """wanted: {short name: normalised value} (validated); snapshot: RuntimeSnapshot;
    owned: OwnedFile. state=absent never plans a runtime write."""
    runtime_tracker = DifferenceTracker()
    runtime_changes = []
    if runtime and state == "present":
        current = snapshot.normalised(sorted(wanted))
        for short in sorted(wanted):
            runtime_tracker.add(full_name(short), current[short], wanted[short])
            if current[short] != wanted[short]:
                runtime_changes.append((short, wanted[short]))

    file_tracker = DifferenceTracker()
    entries_after = owned.entries
    text_after = owned.text
    if persist:
        entries_after = owned.entries_after(state, wanted)
        before, after = owned.managed_values(), owned.managed_values(entries_after)
        for short in sorted(wanted):
            file_tracker.add(full_name(short), before.get(short), after.get(short))
        if file_tracker.changed or not entries_after:
            text_after = render(entries_after)
    return Plan(owned, runtime_tracker, file_tracker, runtime_changes, entries_after,
                text_after)


def apply_plan(plan, snapshot, module, root="/"):
    """Do the plan, all or nothing as far as the host allows: the new file is staged first
    (a read-only or full /etc fails here, before /proc is touched), then /proc is written
    (put back if a write fails), then the file is moved into place."""
    if not plan.file_changed:
        apply_values(plan.runtime_changes, snapshot, root)
        return
    if plan.file_text_after is None:  # state=absent: no runtime change comes with it
        remove(plan.owned.path)
        return
    temp = stage(plan.owned.path, plan.file_text_after)
    done = []
    committed = False
    try:
        done = apply_values(plan.runtime_changes, snapshot, root)
        commit(module, temp, plan.owned.path)
        committed = True
    finally:
        if not committed:  # also when atomic_move ends the module through fail_json
            discard(temp)
            rollback(done, snapshot, root)
