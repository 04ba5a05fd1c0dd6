# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_facts
short_description: Gather what a host has for Multipath TCP, as facts
version_added: 1.2.0
description:
  - Reads whether the kernel has MPTCP, its C(net.mptcp.*) settings, the path manager's
    limits and endpoints, the NetworkManager profiles' MPTCP flags, the open MPTCP
    sockets, the C(MPTcpExt) counters and the MPTCP tools installed, and returns them
    under C(ansible_facts.mptcp), for reports, asserts and drift checks.
  - The same data as M(mptcp.linux.mptcp_info), which returns it in its result.
  - Only the subsets asked for in O(gather_subset) are read.
  - A host without MPTCP, NetworkManager, pyroute2 or C(ss) gets C(supported=false) or an
    empty part, never a failure; C(unavailable) says why a part is empty.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - Linux. Each part uses what it needs when the host has it; none is required.
extends_documentation_fragment:
  - mptcp.linux.path_manager
  - mptcp.linux.gather
seealso:
  - module: mptcp.linux.mptcp_info
  - module: mptcp.linux.mptcp_endpoint
  - module: mptcp.linux.mptcp_limits
"""

EXAMPLES = r"""
- name: Gather every MPTCP fact
  mptcp.linux.mptcp_facts:

- name: Fail when MPTCP is off or the host announces no address
  ansible.builtin.assert:
    that:
      - ansible_facts.mptcp.supported
      - ansible_facts.mptcp.sysctl.enabled == 1
      - ansible_facts.mptcp.endpoints | selectattr('flags', 'contains', 'signal') | list | length > 0
    fail_msg: "MPTCP is not set up: {{ ansible_facts.mptcp.unavailable }}"

- name: Read only the open connections and the counters, inside a namespace
  mptcp.linux.mptcp_facts:
    gather_subset: [connections, counters]
    netns: blue

- name: Show how many subflows each connection has
  ansible.builtin.debug:
    msg: "{{ ansible_facts.mptcp.connections | map(attribute='subflows') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts, under C(mptcp).
  returned: always
  type: dict
  contains:
    mptcp:
      description:
        - What the host has for MPTCP, as M(mptcp.linux.mptcp_info) returns it under C(mptcp) (each part described
          there). Only the parts asked for are there, besides C(supported) and C(unavailable).
      type: dict
      sample: {"supported": true, "limits": {"subflows": 2, "add_addr_accepted": 0}, "unavailable": {}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.info.gather import GATHER_OPTIONS, ensure_facts
from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            GATHER_OPTIONS,
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure_facts)


if __name__ == "__main__":
    main()
