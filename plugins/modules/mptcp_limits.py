# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_limits
short_description: Set the limits of the kernel's MPTCP path manager
version_added: 1.0.0
description:
  - Sets how many extra subflows each MPTCP connection may open and how many addresses
    announced by the peer (ADD_ADDR) it accepts, as C(ip mptcp limits set) does, but
    declaratively and idempotently.
  - The limits belong to a network namespace; a new namespace starts at the kernel
    defaults (C(subflows 2), C(add_addr_accepted 0) since Linux 5.16).
  - Changes are judged by reading the limits back, never from error codes.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - A Linux kernel with MPTCP (5.6 or later).
  - C(ip) from iproute2 5.8 or later with C(ip mptcp), or the Python library pyroute2
    0.5.19 or later on the target.
options:
  subflows:
    description:
      - The most extra subflows a connection may have, 0 to 8.
      - Left out, the current value is left as it is.
    type: int
  add_addr_accepted:
    description:
      - The most addresses announced by the peer that a connection accepts, 0 to 8.
      - Left out, the current value is left as it is.
    type: int
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Returns the limits before and after.
    support: full
extends_documentation_fragment:
  - mptcp.linux.path_manager
notes:
  - With O(backend=auto), C(ip) does the work; pyroute2 does it, with the same result,
    where C(ip) has no C(ip mptcp) (iproute2 before 5.8). Where neither can, the module
    fails before anything is touched.
  - Two runs on one network namespace at once take turns (a lock on the namespace).
seealso:
  - module: mptcp.linux.mptcp_path_manager
  - module: mptcp.linux.mptcp_endpoint
  - module: mptcp.linux.mptcp_info
"""

EXAMPLES = r"""
- name: Allow two extra subflows and accept two announced addresses
  mptcp.linux.mptcp_limits:
    subflows: 2
    add_addr_accepted: 2

- name: Raise only the subflow limit inside a network namespace, through iproute2
  mptcp.linux.mptcp_limits:
    subflows: 4
    netns: blue
    backend: iproute2
"""

RETURN = r"""
limits:
  description: The limits after the run (in check mode, the limits a real run would set).
  returned: success
  type: dict
  contains:
    subflows:
      description: The most extra subflows per connection.
      type: int
      sample: 2
    add_addr_accepted:
      description: The most announced addresses accepted per connection.
      type: int
      sample: 2
  sample: {"subflows": 2, "add_addr_accepted": 2}
changes:
  description: One line per action taken (or, in check mode, that a real run would take).
  returned: success
  type: list
  elements: str
  sample: ["set limits: add_addr_accepted 0 -> 2"]
backend:
  description: The backend that did the work.
  returned: always
  type: str
  sample: pyroute2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import BACKEND_OPTIONS, LIMIT_OPTIONS
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_limits_module


def main():
    module = AnsibleModule(
        argument_spec=dict(LIMIT_OPTIONS, **BACKEND_OPTIONS),
        supports_check_mode=True,
    )
    run_module(module, ensure_limits_module)


if __name__ == "__main__":
    main()
