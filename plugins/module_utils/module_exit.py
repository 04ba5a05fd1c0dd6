# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module of this collection ends: its result, or one clear error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError


def exit_with(module, run):
    """run(module) -> result dict; exit_json with it, or fail_json with the message of the
    MptcpError (or ValidationError) that stopped it."""
    try:
        result = run(module)
    except MptcpError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)
