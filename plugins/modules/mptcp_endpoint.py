# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_endpoint
short_description: Manage the endpoints of the kernel's MPTCP path manager
version_added: 1.0.0
description:
  - Adds, changes and removes the local addresses the kernel's MPTCP path manager uses
    (C(ip mptcp endpoint add/change/delete)), declaratively and idempotently.
  - An endpoint is identified by its O(address) and O(port). A field left out is left as
    it is on an endpoint that exists, and at the kernel default on a new one.
  - V(backup) and V(fullmesh) change in place. A change of V(signal), V(subflow),
    V(laminar), O(dev) or O(id) deletes the endpoint and adds it again, which closes the
    subflows it carries; the module warns when it does.
  - Every input is checked before anything is touched. The actions of one run apply
    whole. When the kernel refuses one, those already done are undone and the module
    fails with what the kernel said.
  - Changes are judged by comparing the endpoints read from the kernel, never from error
    codes.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - A Linux kernel with MPTCP (5.6 or later; V(fullmesh) needs 5.18, V(laminar) 6.18).
  - C(ip) from iproute2 5.8 or later with C(ip mptcp), or the Python library pyroute2
    0.5.19 or later on the target. Without pyroute2, in-place changes need an iproute2
    with C(ip mptcp endpoint change) (5.17 or later; older ones delete and add), and
    V(laminar) needs iproute2 6.19.
options:
  address:
    description:
      - The IPv4 or IPv6 address of one endpoint, without prefix length.
      - Required with O(state=present) unless O(endpoints) is given.
    type: str
  id:
    description:
      - The endpoint id, 1 to 255. Left out, an existing endpoint keeps its id and the
        kernel numbers a new one.
      - With O(state=absent), the endpoint with this id is removed.
    type: int
  dev:
    description:
      - The interface the endpoint's subflows are bound to; it must exist in the
        namespace.
    type: str
  port:
    description:
      - The port announced with the address, 1 to 65535. It needs the V(signal) flag
        without V(subflow), and the address assigned on the host. Part of the endpoint's
        identity.
    type: int
  flags:
    description:
      - The endpoint's flags, any of V(signal), V(subflow), V(backup), V(fullmesh) and
        V(laminar). V(signal) and V(fullmesh) cannot be combined; V(implicit) is set by the
        kernel only.
      - Left out, the flags of an existing endpoint are left as they are; V([]) means no
        flags.
    type: list
    elements: str
  state:
    description:
      - V(present) adds or changes the endpoints given.
      - V(absent) removes them, by O(address) (and O(port) when given) or by O(id);
        O(flags) and O(dev) are then not looked at.
    type: str
    choices: [present, absent]
    default: present
attributes:
  diff_mode:
    description: Returns the endpoints before and after, one line each.
    support: full
extends_documentation_fragment:
  - mptcp.linux.path_manager
  - mptcp.linux.endpoint_list
notes:
  - With O(backend=auto), C(ip) does the work where it can set the flags asked for and
    change flags in place; elsewhere (no C(ip mptcp) before iproute2 5.8, no
    C(endpoint change) before 5.17, no V(laminar) before 6.19) pyroute2 does it where the
    target has it, with the same result.
  - An C(ip) without C(ip mptcp) (iproute2 before 5.8) is refused before anything is
    touched, with its version, when pyroute2 cannot take over.
  - The kernel may still refuse a step that every check before it allowed, for instance
    when the interface of O(dev) is removed between the check and the change. The steps
    already done are then undone and the module fails with what the kernel said.
  - Two runs on one network namespace at once take turns. Each holds a lock on the
    namespace from reading the endpoints to reading back what it changed, so neither
    plans from a state the other is changing.
seealso:
  - module: mptcp.linux.mptcp_path_manager
  - module: mptcp.linux.mptcp_limits
  - module: mptcp.linux.mptcp_info
"""

EXAMPLES = r"""
- name: Open an extra subflow from the second uplink
  mptcp.linux.mptcp_endpoint:
    address: 192.0.2.10
    dev: eth1
    flags: [subflow]

- name: Make it a backup path (changes in place, no subflow closes)
  mptcp.linux.mptcp_endpoint:
    address: 192.0.2.10
    flags: [subflow, backup]

- name: These endpoints and no others, in a namespace
  mptcp.linux.mptcp_endpoint:
    netns: blue
    exclusive: true
    endpoints:
      - address: 198.51.100.2
        id: 1
        flags: [signal]
      - address: 2001:db8::2
        flags: [subflow, fullmesh]

- name: Remove one endpoint by address and another by id
  mptcp.linux.mptcp_endpoint:
    state: absent
    endpoints:
      - address: 192.0.2.10
      - id: 7

- name: Drift check, changing nothing
  mptcp.linux.mptcp_endpoint:
    exclusive: true
    endpoints:
      - address: 198.51.100.2
        flags: [signal]
  check_mode: true
  register: mptcp_drift
"""

RETURN = r"""
endpoints:
  description:
    - The endpoints after the run, in id order (in check mode, those a real run would
      leave; the id of one the kernel is to number is V(null)).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The endpoint id.
      type: int
      sample: 1
    address:
      description: The address, in its compressed form.
      type: str
      sample: 192.0.2.10
    port:
      description: The port announced with the address, or V(null).
      type: int
      sample: null
    dev:
      description: The interface the endpoint is bound to, or V(null).
      type: str
      sample: eth1
    flags:
      description: The flags, by name, in the kernel's bit order.
      type: list
      elements: str
      sample: [subflow, backup]
  sample:
    - {"id": 1, "address": "192.0.2.10", "port": null, "dev": "eth1", "flags": ["subflow", "backup"]}
changes:
  description: One line per action taken (or, in check mode, that a real run would take), in order.
  returned: success
  type: list
  elements: str
  sample:
    - "delete endpoint 192.0.2.9 id 2 signal: not listed (exclusive)"
    - "change endpoint 192.0.2.10 id 1 subflow dev eth1 in place: flags subflow -> subflow backup"
backend:
  description: The backend that did the work.
  returned: always
  type: str
  sample: pyroute2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import BACKEND_OPTIONS, ENDPOINT_OPTIONS
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_endpoint_module
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import ENDPOINT_FIELDS


def main():
    argument_spec = dict(ENDPOINT_OPTIONS)
    argument_spec.update(
        endpoints=dict(type="list", elements="dict", options=ENDPOINT_OPTIONS),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        exclusive=dict(type="bool", default=False),
        **BACKEND_OPTIONS
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("endpoints", field) for field in ENDPOINT_FIELDS],
        required_one_of=[("endpoints", "address", "id")],
        supports_check_mode=True,
    )
    run_module(module, ensure_endpoint_module)


if __name__ == "__main__":
    main()
