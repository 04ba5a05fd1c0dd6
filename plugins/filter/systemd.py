# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that write values into systemd unit files safely, and name units (documented in
systemd_exec.yml, systemd_environment.yml and systemd_service_units.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import service_unit
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.sockets import is_socket
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.unit_text import environment_word, exec_line


def _filter_error(build, value):
    try:
        return build(value)
    except ValidationError as exc:
        raise AnsibleFilterError("%s" % exc)


def systemd_exec(argv):
    return _filter_error(exec_line, argv)


def systemd_environment(assignment):
    return _filter_error(environment_word, assignment)


def systemd_service_units(services, sockets=True):
    """The role's services as unit names (systemd/files.py, service_unit); sockets=False
    leaves the socket units out (those the preload does not move: systemd/sockets.py)."""
    if not isinstance(services, (list, tuple)):
        raise AnsibleFilterError("systemd_service_units expects a list of services, got %r" % (services,))
    units = [service_unit(to_text(service)) for service in services]
    return units if sockets else [unit for unit in units if not is_socket(unit)]


class FilterModule(object):
    def filters(self):
        return {"systemd_exec": systemd_exec, "systemd_environment": systemd_environment,
                "systemd_service_units": systemd_service_units}
