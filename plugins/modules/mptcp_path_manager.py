# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_path_manager
short_description: Set the limits and the endpoints of the kernel's MPTCP path manager in one step
version_added: 1.1.0
description:
  - Sets the limits (as M(mptcp.linux.mptcp_limits)) and the endpoints (as
    M(mptcp.linux.mptcp_endpoint) with O(mptcp.linux.mptcp_endpoint#module:state=present))
    of one network namespace in one module call, which is what the role uses.
  - One call instead of two matters on a fleet, where each module call is a round trip to
    every host; and limits and endpoints then apply as one batch. When the kernel refuses
    a step, or what it holds afterwards differs from the plan, every step already done,
    limits included, is undone and the module fails with what the kernel said.
  - Every input is checked before anything is touched. Changes are judged by reading the
    limits and endpoints back, never from error codes.
  - V(backup) and V(fullmesh) change in place. A change of V(signal), V(subflow),
    V(laminar), O(endpoints[].dev) or O(endpoints[].id) deletes the endpoint and adds it
    again, which closes the subflows it carries; the module warns when it does.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - A Linux kernel with MPTCP (5.6 or later; V(fullmesh) needs 5.18, V(laminar) 6.18).
  - C(ip) from iproute2 5.8 or later with C(ip mptcp), or the Python library pyroute2
    0.5.19 or later on the target.
options:
  limits:
    description:
      - The limits, a dict with the keys C(subflows) (the most extra subflows a connection
        may have, 0 to 8) and C(add_addr_accepted) (the most addresses announced by the
        peer that a connection accepts, 0 to 8), as M(mptcp.linux.mptcp_limits) takes them.
      - A key left out is left as it is; left out entirely, the limits are not looked at.
      - Any other key is refused before anything is touched.
    type: dict
attributes:
  diff_mode:
    description: Returns the limits and the endpoints (one line each) before and after.
    support: full
extends_documentation_fragment:
  - mptcp.linux.path_manager
  - mptcp.linux.endpoint_list
notes:
  - O(endpoints) left out leaves the endpoints alone (unless O(exclusive=true), which then
    removes them all).
  - With O(backend=auto), C(ip) does the work where it can set the flags asked for and
    change flags in place; elsewhere pyroute2 does it where the target has it.
  - Two runs on one network namespace at once take turns (a lock on the namespace).
seealso:
  - module: mptcp.linux.mptcp_limits
  - module: mptcp.linux.mptcp_endpoint
  - module: mptcp.linux.mptcp_info
"""

EXAMPLES = r"""
- name: A client with two uplinks - accept one announced address, open a subflow from eth1
  mptcp.linux.mptcp_path_manager:
    limits:
      subflows: 2
      add_addr_accepted: 1
    endpoints:
      - address: 192.0.2.10
        dev: eth1
        flags: [subflow]

- name: A server that announces its second address, and has no other endpoint
  mptcp.linux.mptcp_path_manager:
    limits:
      subflows: 2
      add_addr_accepted: 0
    exclusive: true
    endpoints:
      - address: 198.51.100.2
        dev: eth1
        flags: [signal]

- name: Drift check in a namespace, changing nothing
  mptcp.linux.mptcp_path_manager:
    netns: blue
    limits:
      subflows: 2
    endpoints:
      - address: 2001:db8::2
        flags: [subflow]
  check_mode: true
  register: mptcp_pm_drift
"""

RETURN = r"""
limits:
  description:
    - The limits after the run (in check mode, those a real run would set).
    - Only when O(limits) is given.
  returned: success and O(limits) given
  type: dict
  sample: {"subflows": 2, "add_addr_accepted": 1}
endpoints:
  description:
    - The endpoints after the run, in id order, each as M(mptcp.linux.mptcp_endpoint)
      returns them (in check mode, those a real run would leave; the id of one the kernel
      is to number is V(null)).
    - Only when O(endpoints) is given or O(exclusive=true).
  returned: success and O(endpoints) given or O(exclusive=true)
  type: list
  elements: dict
  sample:
    - {"id": 1, "address": "192.0.2.10", "port": null, "dev": "eth1", "flags": ["subflow"]}
changes:
  description: One line per action taken (or, in check mode, that a real run would take), in order.
  returned: success
  type: list
  elements: str
  sample:
    - "set limits: add_addr_accepted 0 -> 1"
    - "add endpoint 192.0.2.10 subflow dev eth1"
backend:
  description: The backend that did the work.
  returned: always
  type: str
  sample: iproute2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import BACKEND_OPTIONS, ENDPOINT_OPTIONS
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_path_manager_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            limits=dict(type="dict"),  # its keys: path_manager/model.py, validate_limits_option
            endpoints=dict(type="list", elements="dict", options=ENDPOINT_OPTIONS),
            exclusive=dict(type="bool", default=False),
            **BACKEND_OPTIONS
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure_path_manager_module)


if __name__ == "__main__":
    main()
