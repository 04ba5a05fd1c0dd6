# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs the path-manager modules share (mptcp_path_manager, mptcp_limits,
mptcp_endpoint, and mptcp_info's netns and backend), so that each option means one thing
everywhere. Their documentation: doc fragments mptcp.linux.path_manager and
mptcp.linux.endpoint_list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

BACKENDS = ("auto", "pyroute2", "iproute2")

BACKEND_OPTIONS = dict(
    netns=dict(type="str"),
    backend=dict(type="str", choices=list(BACKENDS), default="auto"),
)

LIMIT_OPTIONS = dict(
    subflows=dict(type="int"),
    add_addr_accepted=dict(type="int"),
)

ENDPOINT_OPTIONS = dict(
    address=dict(type="str"),
    id=dict(type="int"),
    dev=dict(type="str"),
    port=dict(type="int"),
    flags=dict(type="list", elements="str"),
)
