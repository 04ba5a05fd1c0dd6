# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_transfer does: validate, then serve, send or probe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.client import run_client, run_probe
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.join_diagnosis import host_diagnosis
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.options import validate
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.server import run_server


def ensure(params, check_mode, host):
    """What mptcp_transfer does: validate, then serve, send or probe (nothing in check
    mode). A transfer that went wrong fails with its message and its whole result."""
    spec = validate(params)
    if check_mode:
        return dict(changed=False, role=spec["role"], msg="check mode: nothing was sent or listened on")
    if spec["role"] == "server":
        result, failure = run_server(spec)
    elif spec["role"] == "probe":
        result, failure = run_probe(spec)
    else:
        result, failure = run_client(spec, run=host.run_bytes, diagnose=host_diagnosis(host))
    if failure:
        raise MptcpError(failure, changed=False, **result)
    return dict(changed=False, **result)
