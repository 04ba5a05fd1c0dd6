# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's variables checked on the controller, with the modules' own rules, before
anything on a host changes (documented in role_problems.yml beside this file; the checks
are module_utils/host/variables.py, which mptcp_host runs again on the host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host import variables as role_variables


def role_problems(variables, facts=None, host="this host"):
    try:
        return role_variables.role_problems(variables, facts, host)
    except ValidationError as exc:
        raise AnsibleFilterError("%s" % exc)


class FilterModule(object):
    def filters(self):
        return {"role_problems": role_problems}
