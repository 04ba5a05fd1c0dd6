# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_sysctl
short_description: Set net.mptcp.* sysctls (and rp_filter) now and for the next boot, checked against the running kernel
version_added: 1.0.0
description:
  - Sets C(net.mptcp.*) kernel parameters at runtime, by writing C(/proc/sys/net/mptcp/KEY),
    and keeps them in a sysctl file of its own that C(systemd-sysctl) applies at boot.
  - Every key and value is checked against the running kernel before anything is touched.
    A key must exist under C(/proc/sys/net/mptcp/); booleans are 0 or 1; counts and
    seconds are non-negative integers in the kernel's range; C(scheduler) and
    C(path_manager) must be one of the kernel's C(available_schedulers) and
    C(available_path_managers).
  - Takes the reverse-path filter of an interface too, C(net.ipv4.conf.IFACE.rp_filter)
    (since 1.2.0). A strict filter (1) drops the subflows whose packets come back on
    another interface, which MPTCP's extra paths often do; loose (2) is what upstream
    advises. The interface must exist in the network namespace; the value is 0, 1 or 2. The
    kernel applies the larger of C(net.ipv4.conf.all.rp_filter) and the interface's, so
    loose on the interface wins over a strict C(all).
  - Warns when another sysctl file sets one of the keys to a different value and would win
    at boot, and returns those files in RV(conflicts).
author:
  - mptcp.linux contributors (@mptcp-linux)
options:
  settings:
    description:
      - The keys to manage and their values.
      - A key is named as under C(/proc/sys/net/mptcp/), like V(enabled), or in full, like
        V(net.mptcp.enabled).
      - An interface's reverse-path filter is named in full, V(net.ipv4.conf.eth1.rp_filter)
        (or V(net/ipv4/conf/eth0.100/rp_filter)); it takes V(0) (off), V(1) (strict) or
        V(2) (loose), and is written to O(path) as systemd-sysctl and procps read it, an
        interface's own dots as slashes (V(net.ipv4.conf.eth0/100.rp_filter)). These are the
        only keys outside C(net.mptcp) the module takes.
      - Booleans take V(0)/V(1), V(true)/V(false), V(yes)/V(no); they are written as V(0)/V(1).
      - Timeouts (V(add_addr_timeout), V(close_timeout), V(blackhole_timeout)) are in
        B(seconds), not milliseconds.
      - With O(state=absent) the values are ignored and may be V(null).
    type: dict
    required: true
  state:
    description:
      - V(present) sets the keys at runtime (O(runtime)) and in O(path) (O(persist)).
      - V(absent) drops the keys from O(path) and removes the file when no key is left.
        Runtime values are left as they are (the kernel has no "unset"); set the value you
        want with V(present) to change them.
    type: str
    choices: [present, absent]
    default: present
  runtime:
    description:
      - Apply the values now, by writing C(/proc/sys/net/mptcp/KEY).
    type: bool
    default: true
  persist:
    description:
      - Keep the values in O(path), so they come back at boot.
    type: bool
    default: true
  path:
    description:
      - The sysctl file this module owns. It is rewritten whole (a header line, then the
        keys sorted), so give it a file of its own, never C(/etc/sysctl.conf). A file that
        holds lines other than comments and C(key = value) settings is refused, since
        they would be lost.
      - C(systemd-sysctl) reads only C(*.conf) files in C(/etc/sysctl.d), C(/run/sysctl.d),
        C(/usr/local/lib/sysctl.d) and C(/usr/lib/sysctl.d), by file name, the later name
        winning; the module warns when O(path) is not one of them.
    type: path
    default: /etc/sysctl.d/90-mptcp.conf
attributes:
  check_mode:
    description: Reports what would change, with a diff, and touches neither C(/proc) nor the file.
    support: full
  diff_mode:
    description: Shows the managed keys at runtime and the text of O(path), before and after.
    support: full
  idempotent:
    description: Values are compared normalised (integers as integers, words stripped), so a second run reports no change.
    support: full
  platform:
    description: Linux with MPTCP (C(/proc/sys/net/mptcp) exists).
    support: full
    platforms: linux
notes:
  - C(net.mptcp.*) belongs to the network namespace. The runtime values are those of the
    namespace the module runs in; a container has its own, starting at the kernel's defaults.
  - In a container C(/proc/sys) is usually read-only. Setting a runtime value there fails
    with a clear message unless the value already matches; use O(runtime=false) to only
    write the file, or set the value from the host or the container runtime.
  - Writing runtime values needs C(CAP_NET_ADMIN) in the network namespace's owner, so
    use O(ignore:become=true).
  - If a runtime write fails, the keys already written are put back and O(path) is left as
    it was. O(path) is written through a temporary file in its own directory and renamed
    into place, root-owned 0644; on a read-only or full filesystem nothing changes.
  - O(state=absent) does not change runtime values; an rp_filter key dropped from O(path)
    keeps its runtime value until the next boot, when the distribution's files (or
    NetworkManager) set it again.
  - An interface's key in O(path) is applied at boot by C(systemd-sysctl), and again by udev
    whenever that interface appears (systemd's C(99-systemd.rules)).
  - Only O(path) is written; other sysctl files are read to find conflicts, never edited.
  - Two runs at once on a host take turns (a lock on the directory of O(path)), so that
    neither rewrites the file from a copy the other is changing and loses its keys.
seealso:
  - name: sysctl.d(5)
    description: How systemd-sysctl reads the sysctl files at boot.
    link: https://www.freedesktop.org/software/systemd/man/latest/sysctl.d.html
  - name: MPTCP sysctl
    description: The kernel's documentation of the net.mptcp keys.
    link: https://docs.kernel.org/networking/mptcp-sysctl.html
"""

EXAMPLES = r"""
- name: Turn MPTCP on now and at boot
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      enabled: 1

- name: Announce addresses again after 60 seconds and keep the default scheduler
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      net.mptcp.add_addr_timeout: 60
      scheduler: default

- name: Keep a setting for the next boot only (a container with a read-only /proc/sys)
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      checksum_enabled: false
    runtime: false

- name: Stop persisting add_addr_timeout (its runtime value stays as it is)
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      add_addr_timeout:
    state: absent

- name: Loose reverse-path filtering on the second uplink, so its subflows are not dropped
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      enabled: 1
      net.ipv4.conf.eth1.rp_filter: 2

- name: Turn MPTCP off now and at boot
  become: true
  mptcp.linux.mptcp_sysctl:
    settings:
      enabled: false
  register: mptcp_off

- name: Show which files would override it at boot
  ansible.builtin.debug:
    var: mptcp_off.conflicts
"""

RETURN = r"""
runtime:
  description:
    - The values of the writable C(net.mptcp.*) keys at runtime after the task, by short
      name (what they would be, in check mode), and of the rp_filter keys given, in full.
  returned: always
  type: dict
  sample: {"enabled": 1, "add_addr_timeout": 120, "scheduler": "default", "path_manager": "kernel",
           "net.ipv4.conf.eth1.rp_filter": 2}
persisted:
  description: The C(net.mptcp.*) keys in O(path) after the task, by short name, and its rp_filter keys, in full.
  returned: always
  type: dict
  sample: {"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2}
conflicts:
  description:
    - The keys that another sysctl file sets to a different value and that this file
      would win at boot; each also gives a warning.
    - Empty with O(state=absent).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The full name of the key.
      type: str
      sample: net.mptcp.enabled
    file:
      description: The file that wins at boot.
      type: str
      sample: /etc/sysctl.d/99-local.conf
    value:
      description: The value it sets.
      type: raw
      sample: 0
    wanted:
      description: The value asked for.
      type: raw
      sample: 1
  sample: [{"key": "net.mptcp.enabled", "file": "/etc/sysctl.d/99-local.conf", "value": 0, "wanted": 1}]
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.ensure import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            runtime=dict(type="bool", default=True),
            persist=dict(type="bool", default=True),
            path=dict(type="path", default="/etc/sysctl.d/90-mptcp.conf"),
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure)


if __name__ == "__main__":
    main()
