# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_host's rejoin part: mptcp-rejoin's program, endpoint list and unit on the host,
the unit enabled and running (restarted when a file changed), or all of it stopped and
removed. Read, plan, and apply unless in check mode; the unit through systemd/files.py,
as the boot unit is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import FILE_MODE, commit, read_text, remove, stage
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin.files import UNIT_NAME, config_text, program_text, unit_text
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import (
    PutBack,
    Systemctl,
    Wanted,
    apply_plan,
    plan_changes,
    read_found,
    unit_path,
)


def _state(path):
    """(text, right attributes) of a file, or (None, True) when there is none."""
    text = read_text(path)
    if text is None:
        return None, True
    info = os.lstat(path)
    return text, (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (FILE_MODE, 0, 0) or os.geteuid() != 0


def _diff(path, before, after):
    return {"before_header": path, "after_header": path, "before": before or "", "after": after or ""}


def _plan_files(wanted):
    """{path: text or None} -> [(path, text or None)] to write or remove, and their diffs."""
    changes = []
    diff = []
    for path in sorted(wanted):
        text, attributes_right = _state(path)
        if text != wanted[path] or (text is not None and not attributes_right):
            changes.append((path, wanted[path]))
            diff.append(_diff(path, text, wanted[path]))
    return changes, diff


def _is_active(systemctl):
    _rc, out, _err = systemctl.run([systemctl.path, "is-active", UNIT_NAME])
    return out.strip() == "active"


def ensure(params, check_mode, host):
    present = params["state"] == "present"
    program, config, unit_dir = params["program"], params["config"], params["unit_dir"]
    if present:
        wanted_files = {program: program_text(), config: config_text(params["ip"], params["endpoints"])}
        unit = unit_text(params["python"], program, config, params["after"])
    else:
        wanted_files = {program: None, config: None}
        unit = None
    file_changes, diff = _plan_files(wanted_files)
    if not present and not file_changes and not os.path.lexists(unit_path(unit_dir, UNIT_NAME)):
        # Never installed: nothing asked of systemd (a host without it is fine).
        return dict(changed=False, files_changed=[], unit_enabled=None, running=False)
    systemctl_path = host.bin_path("systemctl")
    if not systemctl_path:
        raise MptcpError("systemctl not found: mptcp-rejoin runs as a systemd service")
    systemctl = Systemctl(host.run, systemctl_path)
    wanted_unit = Wanted(unit_name=UNIT_NAME, unit_content=unit)
    unit_plan = plan_changes(unit_dir, wanted_unit, read_found(unit_dir, wanted_unit, systemctl.is_enabled))
    active = _is_active(systemctl)
    files_changed = sorted(set([path for path, _text in file_changes] + unit_plan.files_changed))
    action = None
    if present and not active:
        action = "start"
    elif present and files_changed:
        action = "restart"
    elif not present and active:
        action = "stop"
    if action:
        diff.append(_diff("systemctl is-active %s" % UNIT_NAME, "active\n" if active else "inactive\n",
                          "active\n" if present else "inactive\n"))
    changed = bool(file_changes or unit_plan.changed or action)
    if changed and not check_mode:
        _apply(host, systemctl, action, file_changes, unit_plan)
    result = dict(changed=changed, files_changed=files_changed, unit_enabled=present, running=present)
    if host.diff:
        result["diff"] = diff + unit_plan.diff
    return result


def _apply(host, systemctl, action, file_changes, unit_plan):
    """Stop, write the program and its configuration, the unit, then start: a step refused
    puts back the steps before it (the files' texts, the unit, a stopped service started
    again), and the error says so."""
    files = PutBack(host, systemctl, UNIT_NAME)
    unit = None
    stopped = False
    try:
        if action == "stop":
            systemctl.call("stop", UNIT_NAME)
            stopped = True
        for path, text in file_changes:
            before = read_text(path)
            if text is None:
                remove(path)
            else:
                commit(host, stage(path, text), path)
            files.files.append((path, before))
        unit = apply_plan(host, unit_plan, UNIT_NAME, systemctl)
        if action in ("start", "restart"):
            systemctl.call(action, UNIT_NAME)
    except MptcpError as error:
        problems = (unit.run() if unit else []) + files.run()
        if stopped:
            try:
                systemctl.call("start", UNIT_NAME)
            except MptcpError as start_error:
                problems.append("%s" % start_error)
        raise MptcpError("%s; %s" % (("%s" % error).rstrip("."), (
            "putting mptcp-rejoin back failed: %s" % "; ".join(problems) if problems
            else "mptcp-rejoin's program and configuration were put back as they were")))
