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

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host import boot_unit


def boot_commands(ip, limits=None, endpoints=None, exclusive=False, routes=None):
    """[{argv, keep_going}]: the commands of the role's boot unit (module_utils/host/boot_unit.py)."""
    try:
        return boot_unit.boot_commands(ip, limits, endpoints, exclusive, routes)
    except ValidationError as exc:
        raise AnsibleFilterError("%s" % exc)


class FilterModule(object):
    def filters(self):
        return {"boot_commands": boot_commands}
