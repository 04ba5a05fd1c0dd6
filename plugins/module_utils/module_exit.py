# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module of this collection runs and ends. A module is its documentation, its
argument spec and one line: run_module(module, ensure), where ensure(params, check_mode,
host) -> result is its topic's ensure layer (it takes the lock, reads, validates, plans,
applies, reads back and rolls back). The module ends with that result, or with one clear
error: the message of the MptcpError (or ValidationError) that stopped it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.command import command_runner
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError


class ModuleHost:
    """What an ensure layer needs of the host, given by an AnsibleModule: commands, the
    paths of binaries, warnings, atomic moves, and whether a diff is wanted."""

    def __init__(self, module):
        self._module = module
        from ansible.module_utils.common.locale import get_best_parsable_locale

        locale = get_best_parsable_locale(module)  # one `locale -a` for both runners
        self.run = command_runner(module, locale=locale)
        self.run_bytes = command_runner(module, binary=True, locale=locale)
        self.diff = bool(module._diff)

    def bin_path(self, name, required=False):
        return self._module.get_bin_path(name, required=required)

    def warn(self, message):
        self._module.warn(message)

    def atomic_move(self, source, destination):
        self._module.atomic_move(source, destination)

    def deprecate(self, message, version, collection_name):
        self._module.deprecate(message, version=version, collection_name=collection_name)


def _warn_all(module, result):
    for warning in result.pop("warnings", None) or ():
        module.warn(warning)


def run_module(module, ensure):
    """ensure(module.params, module.check_mode, host) -> result; exit_json with it, or
    fail_json with the message (and the details) of the MptcpError that stopped it. A
    result's "warnings" become module warnings."""
    try:
        result = ensure(module.params, module.check_mode, ModuleHost(module))
    except MptcpError as error:
        details = dict(error.details)
        _warn_all(module, details)
        module.fail_json(msg=str(error), **details)
    _warn_all(module, result)
    module.exit_json(**result)
