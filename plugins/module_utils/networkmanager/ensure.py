# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nm_mptcp_flags does: under the lock of NetworkManager's profiles, read the
profiles, plan, write and apply them unless in check mode, and check what NetworkManager
and the kernel hold afterwards (networkmanager/apply.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply import (
    apply_devices,
    check_outcome,
    effective_flags,
    make_plans,
    report_profiles,
    requests_from_params,
    resolve,
    track,
    write_profiles,
)
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import NmClient
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import check_laminar
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.host import HostReader

# Exists wherever NetworkManager is installed: the lock of nm_mptcp_flags runs (host_lock.py).
NM_CONFIG_DIR = "/etc/NetworkManager"


def open_client(host):
    nmcli = host.bin_path("nmcli")
    if not nmcli:
        raise MptcpError("nmcli not found: this module needs NetworkManager 1.40 or later "
                         "with its command line client")
    return NmClient(host.run, nmcli, busctl=host.bin_path("busctl"),
                    daemon=host.bin_path("NetworkManager"))


def ensure(params, check_mode, host):
    requests = requests_from_params(params["name"], params["flags"], params["profiles"])
    client = open_client(host)
    version = client.check_ready()
    for given, flags in requests:
        check_laminar(flags, version, "profile %r" % (given,))
    reader = HostReader(host.run, host.bin_path("ip", required=True))
    # From reading the profiles to reading back what changed: two runs at once take turns,
    # so the second plans from what the first left (check mode: shared, reads only).
    with HostLock(NM_CONFIG_DIR, "NetworkManager's profiles", shared=check_mode):
        plans = make_plans(resolve(requests, client.profiles()), client, params["apply"])
        tracker = track(plans)
        applied = tracker.changed and not check_mode
        if applied:
            write_profiles(client, plans)
            apply_devices(client, plans)
        warnings, endpoints = check_outcome(plans, effective_flags(plans, client, version), reader, applied)
    for warning in warnings:
        host.warn(warning)

    profiles, running_warnings = report_profiles(plans, client, applied)
    for warning in running_warnings:
        host.warn(warning)
    result = dict(changed=tracker.changed, profiles=profiles, endpoints=endpoints)
    if host.diff:
        result["diff"] = tracker.diff()
    return result
