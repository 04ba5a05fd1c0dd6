# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `ip mptcp` commands of the role's boot unit, built by the iproute2 backend that the
modules use, so that the unit and the modules cannot drift apart (documented in
boot_commands.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend


def _endpoint(endpoint):
    # The role's variables leave out what is not set; the preflight (role_problems)
    # checked them already.
    return {"address": endpoint["address"], "dev": endpoint.get("dev") or None, "id": endpoint.get("id") or None,
            "port": endpoint.get("port") or None, "flags": list(endpoint.get("flags") or [])}


def boot_commands(ip, limits=None, endpoints=None, exclusive=False):
    """[{argv, keep_going}]: flush (exclusive), the limits given, then each endpoint added;
    keep_going where a failure must not stop the unit (an endpoint NetworkManager added
    already)."""
    if not ip:
        raise AnsibleFilterError("boot_commands expects the path of ip, got %r" % (ip,))
    commands = []
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
