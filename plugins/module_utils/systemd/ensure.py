# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_systemd does: validate the unit and drop-ins asked for, read what is there,
plan, and apply unless in check mode (systemd/files.py, apply_plan)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import (
    Systemctl,
    Wanted,
    apply_plan,
    plan_changes,
    read_found,
    validate,
)


def wanted_from(params):
    unit = params["unit"] or {}
    dropin = params["dropin"] or {}
    present = unit.get("state", "present") == "present"
    return Wanted(unit_name=unit.get("name"), unit_content=unit.get("content") if present else None,
                  unit_enabled=unit.get("enabled", True),
                  dropin_name=dropin.get("name"), dropin_content=dropin.get("content"),
                  services=dropin.get("services") or [], dropin_contents=dropin.get("contents"))


def ensure(params, check_mode, host):
    wanted = wanted_from(params)
    validate(wanted)
    unit_dir = params["unit_dir"]
    systemctl_path = host.bin_path("systemctl")
    if not systemctl_path:
        raise MptcpError("systemctl not found: this module needs a host that runs systemd")
    systemctl = Systemctl(host.run, systemctl_path)
    plan = plan_changes(unit_dir, wanted, read_found(unit_dir, wanted, systemctl.is_enabled))
    if plan.changed and not check_mode:
        apply_plan(host, plan, wanted.unit_name, systemctl, params["daemon_reload"])
    enabled = None
    if wanted.unit_name is not None:
        enabled = wanted.unit_content is not None and wanted.unit_enabled
    result = dict(changed=plan.changed, files_changed=plan.files_changed,
                  services_changed=plan.services_changed, unit_enabled=enabled)
    if host.diff:
        result["diff"] = plan.diff
    return result
