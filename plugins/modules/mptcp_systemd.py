# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_systemd
short_description: Keep a systemd unit and the drop-ins of one name in place, in one call
version_added: 1.0.0
description:
  - Writes a unit file of O(unit_dir) and enables it, or disables and removes it; writes a
    drop-in of one name for each service listed and removes that drop-in from every other
    unit. This is how the role C(mptcp.linux.mptcp) keeps C(mptcp-pm.service) (limits and
    endpoints at boot) and the mptcpize drop-ins, in one module call per host instead of
    one per file.
  - Files are root-owned 0644 and written atomically; drop-in directories are root-owned
    0755. A file with the right text but another mode or owner is fixed.
  - systemd is reloaded once when a file was written or removed, before the unit is
    enabled.
  - The services whose drop-in was written or removed are returned in
    RV(services_changed), for a handler to restart them. They are not restarted here.
author:
  - mptcp.linux contributors (@mptcp-linux)
options:
  unit:
    description:
      - A unit file in O(unit_dir).
    type: dict
    suboptions:
      name:
        description: The unit's name, with its suffix, like V(mptcp-pm.service).
        type: str
        required: true
      content:
        description: The unit file's text. Required with O(unit.state=present).
        type: str
      enabled:
        description:
          - Whether the unit is enabled (C(systemctl enable); it needs an C([Install])
            section) or not.
        type: bool
        default: true
      state:
        description:
          - V(present) writes the file; V(absent) disables the unit and removes the file.
        type: str
        choices: [present, absent]
        default: present
  dropin:
    description:
      - A drop-in file, C(UNIT_DIR/SERVICE.d/NAME), for exactly the services listed.
    type: dict
    suboptions:
      name:
        description: The drop-in's file name, ending in C(.conf).
        type: str
        required: true
      content:
        description: The drop-in's text, the same for every service. Required when O(dropin.services) lists units.
        type: str
      services:
        description:
          - Units (with their suffix) that get the drop-in. Every other unit's drop-in of
            this name (and not in O(dropin.contents)) is removed, so V([]) removes them all.
        type: list
        elements: str
        default: []
      contents:
        description:
          - Units (with their suffix) whose drop-in has a text of its own, unit name to
            text - a socket unit's C([Socket]) section beside the services' C([Service])
            ones. They get the drop-in as the units of O(dropin.services) do; a unit in both
            gets its text from here.
        type: dict
        version_added: 1.2.0
  unit_dir:
    description: Where the unit and the drop-in directories are.
    type: path
    default: /etc/systemd/system
  daemon_reload:
    description: Reload systemd when a file was written or removed.
    type: bool
    default: true
attributes:
  check_mode:
    description: Reports what would be written, removed, enabled or disabled, with a diff, and touches nothing.
    support: full
  diff_mode:
    description: Each file's text before and after (empty when missing), and C(systemctl is-enabled) before and after.
    support: full
  idempotent:
    description: Text, mode, owner and the enabled state are compared; a second run reports no change.
    support: full
  platform:
    description: Linux with systemd.
    support: full
    platforms: linux
notes:
  - A unit's C(/usr/lib/systemd/system) file is never touched; a drop-in overrides it.
seealso:
  - module: ansible.builtin.systemd_service
  - name: systemd.unit(5)
    description: Unit files and drop-in directories.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html
"""

EXAMPLES = r"""
- name: Apply limits and endpoints at boot, and run iperf3 over MPTCP
  mptcp.linux.mptcp_systemd:
    unit:
      name: mptcp-pm.service
      content: "{{ lookup('ansible.builtin.template', 'mptcp-pm.service.j2') }}"
    dropin:
      name: 50-mptcp.conf
      content: |
        [Service]
        Environment="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
      services: [iperf3.service]
      contents:
        # systemd 257 or later: the socket unit's listener is an MPTCP one.
        echo.socket: |
          [Socket]
          SocketProtocol=mptcp
  register: mptcp_systemd

- name: Restart the services whose drop-in changed
  ansible.builtin.systemd_service:
    name: "{{ item }}"
    state: restarted
  loop: "{{ mptcp_systemd.services_changed }}"

- name: Remove the unit and every drop-in of that name
  mptcp.linux.mptcp_systemd:
    unit:
      name: mptcp-pm.service
      state: absent
    dropin:
      name: 50-mptcp.conf
      services: []
"""

RETURN = r"""
files_changed:
  description: The files written, fixed or removed (that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/etc/systemd/system/mptcp-pm.service", "/etc/systemd/system/iperf3.service.d/50-mptcp.conf"]
services_changed:
  description: The units whose drop-in was written or removed; they need a restart to pick it up.
  returned: always
  type: list
  elements: str
  sample: ["iperf3.service"]
unit_enabled:
  description: Whether the unit is enabled after the task; V(null) without O(unit).
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.ensure import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                content=dict(type="str"),
                enabled=dict(type="bool", default=True),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            ), required_if=[("state", "present", ["content"])]),
            dropin=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                content=dict(type="str"),
                services=dict(type="list", elements="str", default=[]),
                contents=dict(type="dict"),
            )),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            daemon_reload=dict(type="bool", default=True),
        ),
        required_one_of=[("unit", "dropin")],
        supports_check_mode=True,
    )
    run_module(module, ensure)


if __name__ == "__main__":
    main()
