# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `ip` commands of the role's boot unit, built by the iproute2 backends that the
modules use, so that the unit and the modules cannot drift apart: the endpoints' source
routes (routing/backend_iproute2) and the path manager's limits and endpoints
(path_manager/backend_iproute2). Documented in boot_commands.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import boot_argv


def _endpoint(endpoint):
    # The role's variables leave out what is not set; the preflight (role_problems)
    # checked them already.
    return {"address": endpoint["address"], "dev": endpoint.get("dev") or None, "id": endpoint.get("id") or None,
            "port": endpoint.get("port") or None, "flags": list(endpoint.get("flags") or [])}


def boot_commands(ip, limits=None, endpoints=None, exclusive=False, routes=None):
    """[{argv, keep_going}]: the rules and routes of `routes` (resolved, as
    mptcp_source_routing returns them: the ones it keeps through the kernel), flush
    (exclusive), the limits given, then each endpoint added. Routes come first, so that a
    subflow from an endpoint finds its gateway from the start. keep_going where a failure
    must not stop the unit: an endpoint NetworkManager added already, a rule or route that
    is there already (the unit started again); either way the rest still runs."""
    if not ip:
        raise AnsibleFilterError("boot_commands expects the path of ip, got %r" % (ip,))
    commands = []
    for route in routes or []:
        for argv in boot_argv(route):
            commands.append({"argv": [ip] + list(argv), "keep_going": True})
    if exclusive:
        commands.append({"argv": [ip] + list(Iproute2Backend.FLUSH_ARGS), "keep_going": False})
    if limits:
        commands.append({"argv": [ip] + Iproute2Backend.limits_args(limits), "keep_going": False})
    for endpoint in endpoints or []:
        commands.append({"argv": [ip] + Iproute2Backend.add_args(_endpoint(endpoint)), "keep_going": True})
    return commands


class FilterModule(object):
    def filters(self):
        return {"boot_commands": boot_commands}
