# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nm_mptcp_flags
short_description: Set connection.mptcp-flags of NetworkManager profiles and apply them
version_added: 1.0.0
description:
  - Sets the C(connection.mptcp-flags) property of NetworkManager profiles, which makes
    NetworkManager configure an MPTCP endpoint (C(ip mptcp endpoint)) for each address of
    the device the profile is active on, with the flags given.
  - Brings the change to the devices the profiles are active on, by default with
    C(nmcli device reapply), which does not take the link or its addresses down.
  - Every input is checked before anything is touched; flags are compared as sets, so
    C([subflow, signal]) and NetworkManager's C(0x30) are the same value.
  - Warns when the flags cannot take effect on this host (MPTCP turned off by
    C(net.mptcp.enabled), no default route for an address family), and when, after
    applying, the kernel does not show the endpoints NetworkManager should have made.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - NetworkManager 1.40 or later, running, with nmcli
  - iproute2 (C(ip)), to read addresses, routes and endpoints
  - busctl (systemd), to read what a device runs; optional
options:
  name:
    description:
      - The profile, by name (C(connection.id)) or UUID. Use the UUID when several
        profiles share a name.
      - Requires O(flags). Mutually exclusive with O(profiles).
    type: str
  flags:
    description:
      - The flags of O(name), as a set. V([]) means NetworkManager's default (the value
        0), which is the C(connection.mptcp-flags) default of C(NetworkManager.conf), or
        C(enabled,subflow) when it sets none.
      - V(disabled) configures no endpoint and cannot be combined with other flags.
        V(enabled) is implied by any other flag. V(also-without-sysctl) configures
        endpoints even when C(net.mptcp.enabled=0); V(also-without-default-route) even
        when the address family has no default route.
      - V(signal), V(subflow), V(backup), V(fullmesh) and V(laminar) are the flags the endpoints get
        (see ip-mptcp(8)); V(signal) and V(fullmesh) cannot be set together.
      - V(laminar) (added in collection version 1.2.0) needs NetworkManager 1.56 or later; on an
        older one the task fails before anything is touched. NetworkManager 1.56 and later
        also give the endpoints of a profile at V([]) C(subflow laminar), where older ones give C(subflow).
    type: list
    elements: str
    choices: [disabled, enabled, also-without-sysctl, also-without-default-route, signal, subflow, backup, fullmesh, laminar]
  profiles:
    description:
      - Several profiles at once. All are checked before any is changed; if saving one
        fails, those already saved are set back.
    type: list
    elements: dict
    suboptions:
      name:
        description: The profile, by name or UUID, as O(name).
        type: str
        required: true
      flags:
        description: Its flags, as O(flags).
        type: list
        elements: str
        required: true
        choices: [disabled, enabled, also-without-sysctl, also-without-default-route, signal, subflow, backup, fullmesh, laminar]
  apply:
    description:
      - How a change reaches a device the profile is active on. A profile that is not
        active is only saved; it is not activated.
      - V(reapply) (the default) runs C(nmcli device reapply DEVICE). On NetworkManager
        1.42 and 1.52 (seen in the lab) the endpoints of the device's addresses are
        added, changed or removed, and the link, its addresses and its routes stay (no
        address or route event at all), so MPTCP and TCP connections over it carry on. It also
        applies any other change of the profile not applied yet, and fails when one of
        those cannot be reapplied.
      - V(reactivate) runs C(nmcli connection up) on the device. On 1.42 and 1.52 (seen
        in the lab) the device's addresses and routes are removed and added again, which
        breaks the connections using them (a remote Ansible connection over it may drop
        too).
      - V(none) only saves the profile; the device keeps running the old flags until the
        profile is activated again.
      - With V(reapply) or V(reactivate), a device still running other flags than the
        (unchanged) profile, after an earlier V(none), gets them applied too.
    type: str
    choices: [none, reapply, reactivate]
    default: reapply
attributes:
  check_mode:
    description: Reports what would change, with a diff; no profile is saved and nothing is applied.
    support: full
  diff_mode:
    description: Shows the flags of each profile, and those each of its devices runs, before and after, as lists in NetworkManager's order.
    support: full
  idempotent:
    description:
      - Flags are compared as sets, whichever way NetworkManager prints them, so a second run reports no change.
      - The flags a device runs are read from NetworkManager's applied connection with C(busctl); without busctl only the saved profile is compared.
    support: full
  platform:
    description: Linux with NetworkManager 1.40 or later running (C(connection.mptcp-flags) came in 1.40).
    support: full
    platforms: linux
notes:
  - Needs C(nmcli) and a running NetworkManager 1.40 or later; fails before touching
    anything when NetworkManager is stopped or older. Run it with O(ignore:become=true).
  - Two runs on one host at once take turns (a lock on C(/etc/NetworkManager) from
    reading the profiles to reading back what changed), so the second plans from what
    the first left.
  - NetworkManager configures endpoints only when C(net.mptcp.enabled=1) (unless
    V(also-without-sysctl)) and the address family has a default route in the main
    table (unless V(also-without-default-route)); it skips loopback, link-local, IPv6
    ULA and temporary addresses. It sets no limits and does not turn MPTCP on; use
    M(mptcp.linux.mptcp_sysctl) and M(mptcp.linux.mptcp_limits) for those.
  - NetworkManager applies the flags only when it configures a device. Changing
    C(net.mptcp.enabled) or routes later does not add or remove its endpoints until
    the device is applied again.
  - After a change of the C(NetworkManager.conf) default, a profile at 0 keeps the old
    default's endpoints on NetworkManager 1.42 even through C(nmcli device reapply)
    (1.52 takes the new default then); the module sees no difference in that case, since
    the profile and the device both stay at 0. Reactivate the device to apply it.
  - The endpoints are the kernel's, per network namespace; another manager of endpoints
    (mptcpd, M(mptcp.linux.mptcp_endpoint)) may fight NetworkManager over the same addresses.
  - nmcli runs with argument lists in a UTF-8 C locale where the host has one (in plain
    C, nmcli prints non-ASCII characters of profile names as C(?)).
  - NetworkManager 1.52 was seen putting an IPv6 endpoint in place 1 to 2 seconds after
    C(nmcli device reapply) returned; the check after applying waits up to 10 seconds.
seealso:
  - name: nm-settings-nmcli(5)
    description: NetworkManager's documentation of connection.mptcp-flags.
    link: https://networkmanager.dev/docs/api/latest/nm-settings-nmcli.html
  - name: ip-mptcp(8)
    description: The endpoint flags.
    link: https://man7.org/linux/man-pages/man8/ip-mptcp.8.html
"""

EXAMPLES = r"""
- name: Announce the second uplink's address and open subflows from it
  become: true
  mptcp.linux.nm_mptcp_flags:
    name: lab-eth1
    flags: [signal, subflow, also-without-default-route]

- name: Set the flags of both uplinks in one task
  become: true
  mptcp.linux.nm_mptcp_flags:
    profiles:
      - name: lab-eth0
        flags: [subflow]
      - name: lab-eth1
        flags: [subflow, backup]
  register: uplinks

- name: Show the endpoints NetworkManager made
  ansible.builtin.debug:
    var: uplinks.endpoints

- name: Save a profile only; it takes effect when it is activated next
  become: true
  mptcp.linux.nm_mptcp_flags:
    name: lab-eth1
    flags: [disabled]
    apply: none

- name: Back to NetworkManager's default for both, bringing the devices up again
  become: true
  mptcp.linux.nm_mptcp_flags:
    profiles:
      - name: lab-eth0
        flags: []
      - name: lab-eth1
        flags: []
    apply: reactivate
"""

RETURN = r"""
profiles:
  description: Each profile of the task, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The profile's name (C(connection.id)).
      type: str
      sample: lab-eth1
    uuid:
      description: The profile's UUID.
      type: str
      sample: af00069b-1e05-57dc-a55c-e3eaaaa6f6d0
    flags_before:
      description: The profile's flags before the task, in NetworkManager's order; V([]) is the default (0).
      type: list
      elements: str
      sample: []
    flags_after:
      description: The profile's flags after the task (what they would be, in check mode).
      type: list
      elements: str
      sample: [signal, subflow]
    devices:
      description: The devices the profile is active on.
      type: list
      elements: str
      sample: [eth1]
    running:
      description:
        - The flags each device runs after the task (NetworkManager's applied
          connection), by device. Empty when C(busctl) is missing.
      type: dict
      sample: {"eth1": ["signal", "subflow"]}
    applied:
      description:
        - How the flags were brought to the devices (would be, in check mode), V(reapply)
          or V(reactivate); V(none) when nothing needed applying or with O(apply=none);
          V(not-active) when the profile is not active on any device.
      type: str
      sample: reapply
endpoints:
  description:
    - The kernel's MPTCP endpoints on the profiles' devices or their addresses, after
      the task (as found, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    profile:
      description: The profile active on the device.
      type: str
      sample: lab-eth1
    device:
      description: The device the profile is active on.
      type: str
      sample: eth1
    address:
      description: The endpoint's address.
      type: str
      sample: 198.18.2.10
    id:
      description: The endpoint's id.
      type: int
      sample: 2
    flags:
      description: The endpoint's flags (ip-mptcp names).
      type: list
      elements: str
      sample: [signal, subflow]
    port:
      description: The endpoint's port, null when it has none.
      type: int
      sample: null
    dev:
      description: The interface the endpoint is bound to.
      type: str
      sample: eth1
  sample: [{"profile": "lab-eth1", "device": "eth1", "address": "198.18.2.10", "id": 2, "flags": ["signal", "subflow"],
            "port": null, "dev": "eth1"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply import APPLY_MODES
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.ensure import ensure
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import FLAG_NAMES


def main():
    flags = dict(type="list", elements="str", choices=list(FLAG_NAMES))
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            flags=flags,
            profiles=dict(type="list", elements="dict", options=dict(
                name=dict(type="str", required=True),
                flags=dict(flags, required=True),
            )),
            apply=dict(type="str", choices=list(APPLY_MODES), default="reapply"),
        ),
        mutually_exclusive=[("name", "profiles")],
        required_one_of=[("name", "profiles")],
        required_together=[("name", "flags")],
        supports_check_mode=True,
    )
    run_module(module, ensure)


if __name__ == "__main__":
    main()
