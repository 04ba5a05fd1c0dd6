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
  - Reads what M(mptcp.linux.mptcp_info) reads (MPTCP in the kernel, its settings, the
    path manager, NetworkManager's profiles, the MPTCP sockets, the counters, the tools,
    the interfaces' rp_filter)
    and returns it as facts, under C(ansible_facts.mptcp).
author:
  - mptcp.linux contributors (@mptcp-linux)
extends_documentation_fragment:
  - mptcp.linux.path_manager
  - mptcp.linux.gather
seealso:
  - module: mptcp.linux.mptcp_info
"""

EXAMPLES = r"""
- name: The limits and endpoints of namespace blue, as facts
  mptcp.linux.mptcp_facts:
    gather_subset: [limits, endpoints]
    netns: blue

- name: Fail where blue announces no address
  ansible.builtin.assert:
    that: ansible_facts.mptcp.endpoints | selectattr('flags', 'contains', 'signal') | list | length > 0
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
