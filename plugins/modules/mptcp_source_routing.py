# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_source_routing
short_description: Give each MPTCP endpoint address a routing table of its own, so that its subflows leave by its path
version_added: 1.2.0
description:
  - An extra subflow leaves from its endpoint's address. Where that address's interface has
    no default route, or the host's one default route leads out of another interface, the
    subflow's packets take the wrong path and the subflow never forms (the join SYN is sent,
    nothing comes back). This is the most common reason for "no second subflow".
  - For each entry of O(routes) the module sets up source routing, IPv4 or IPv6, as
    upstream's MPTCP setup guide has admins write it by hand - a rule
    C(from ADDRESS lookup TABLE priority PRIORITY), and in TABLE the on-link route of the
    address's subnet on the device (peers on that subnet stay direct) and a default route
    via O(routes[].gateway) on the device.
  - Tables and priorities never collide with what the host has. A table given or chosen
    that holds routes this module did not make, or that a rule it did not make looks up, and
    a priority that such a rule holds, are refused before anything changes, with one error
    naming the table or priority and what holds it.
  - Every input is checked before anything is touched - the addresses, each gateway's
    family, each device (it must exist and hold the address), tables and priorities.
  - The steps of a run are one batch - when one is refused, or the kernel does not show
    afterwards what was planned, the steps already done are undone (profiles written
    included) and the module fails saying what happened.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - A Linux kernel with policy routing (every distribution kernel has it).
  - C(ip) from iproute2 4.17 or later (JSON output); with O(via=networkmanager),
    NetworkManager and nmcli.
options:
  routes:
    description:
      - The addresses to route by their source, one entry each (each address once).
      - May be empty, with O(exclusive=true) to remove every rule of ours.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - The endpoint's address, IPv4 or IPv6, without a prefix length. With
            O(state=present) it must be configured on O(routes[].dev).
        type: str
        required: true
      gateway:
        description:
          - The router on this address's path, of the address's family.
        type: str
        required: true
      dev:
        description:
          - The device the address is on and the path leaves by.
        type: str
        required: true
      table:
        description:
          - The routing table of this address, 1 to 4294967295 but not 253 to 255 (the
            kernel's C(default), C(main) and C(local)).
          - Left out, the table of the rule that is already this module's for the address
            is kept, else the lowest free table of O(table_range) is taken (free - no rule of
            either family looks it up and no route is in it), so the choice is stable from
            run to run.
        type: int
      priority:
        description:
          - The priority of the rule, 1 to 32765 (lower is looked at first; 0, 32766 and
            32767 are the kernel's rules of the C(local), C(main) and C(default) tables).
          - Left out, chosen as O(routes[].table) is, from O(priority_range).
        type: int
  state:
    description:
      - V(present) sets the rules and routes up; V(absent) removes exactly those of the
        listed addresses (their rules, and in the tables these looked up the default route
        via the gateway and the address's on-link route on the device), nothing else.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove the rules that are this module's (see the notes)
        of the addresses B(not) listed, and the routes of the tables they looked up, through
        the kernel and out of the C(routing-rules) and C(routes) of the active
        NetworkManager profiles (these unless O(via=kernel) or O(netns)), in the same batch.
      - A rule is removed only when its table holds nothing but routes this module makes (a
        default route via a gateway, on-link routes of a subnet of the rule's address). A
        table that holds anything else - in the kernel or in the profile - is no proof the
        rule is this module's - the rule and its table are left as they are, with a warning.
      - Rules of a subnet, with other selectors, or with a table or priority outside
        O(table_range) and O(priority_range) are never touched.
      - Not with O(state=absent).
    type: bool
    default: false
    version_added: 1.2.0
  via:
    description:
      - Who holds the rules and routes.
      - V(kernel) sets them with C(ip rule) and C(ip route) now. They are lost at a reboot;
        the role C(mptcp.linux.mptcp) sets them again at boot with its boot unit, which runs
        the same C(ip) commands.
      - V(networkmanager) writes them into the active NetworkManager profile of the device
        (C(ipv4.routing-rules) and C(ipv4.routes) with C(table=TABLE), or the C(ipv6) ones)
        and runs C(nmcli device reapply). NetworkManager then keeps them (it does not take
        them away on its next sync, a C(connection up) brings them back) and sets them at
        every boot. The module checks that the kernel holds them after the reapply.
      - V(auto) takes V(networkmanager) for an entry whose device has an active
        NetworkManager profile while NetworkManager runs (never with O(netns)), else
        V(kernel).
    type: str
    choices: [auto, kernel, networkmanager]
    default: auto
  table_range:
    description:
      - The first and the last table the module may choose from.
    type: list
    elements: int
    default: [1000, 1999]
  priority_range:
    description:
      - The first and the last rule priority the module may choose from.
    type: list
    elements: int
    default: [1000, 1999]
  netns:
    description:
      - Act in this named network namespace (one C(ip netns) lists). The module fails when
        it does not exist; it never creates one. Not with O(via=networkmanager).
    type: str
attributes:
  check_mode:
    description: Reports what a real run would do (changed, changes, routes, diff) and changes nothing.
    support: full
  diff_mode:
    description: Returns, before and after, the rules concerned and the routes of each table concerned, and the profile properties written.
    support: full
  idempotent:
    description: Running the module twice with the same options reports changed only the first time.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
notes:
  - A rule is this module's for an address when it selects that address alone and looks up
    a table of O(table_range) with a priority of O(priority_range) (or the table and
    priority given). Such a rule found with another table or priority than the one wanted
    is replaced.
  - Two runs on one network namespace at once take turns (a lock on the namespace, the
    same as the path manager's; and on C(/etc/NetworkManager) where a profile is written).
seealso:
  - module: mptcp.linux.mptcp_path_manager
  - module: mptcp.linux.nm_mptcp_flags
  - name: ip-rule(8)
    description: The iproute2 manual page of ip rule.
    link: https://man7.org/linux/man-pages/man8/ip-rule.8.html
  - name: MPTCP setup guide, routing
    description: Upstream's description of the rules and tables an extra path needs.
    link: https://www.mptcp.dev/setup.html
"""

EXAMPLES = r"""
# A client with two uplinks and one default route (via eth0), talking to a server with a
# single address behind routers: without this, the subflow from eth1's address leaves by
# eth0 and never forms.
- name: Route the second uplink's address by its own gateway
  mptcp.linux.mptcp_source_routing:
    routes:
      - address: 198.51.100.20
        gateway: 198.51.100.1
        dev: eth1

- name: The client's MPTCP endpoint on that address
  mptcp.linux.mptcp_path_manager:
    limits:
      subflows: 2
    endpoints:
      - address: 198.51.100.20
        dev: eth1
        flags: [subflow]

# The server needs nothing of this: it has one address and answers the subflows by its
# default route.

- name: A dual-stack client, both families, tables and priorities given
  mptcp.linux.mptcp_source_routing:
    routes:
      - address: 198.51.100.20
        gateway: 198.51.100.1
        dev: eth1
        table: 1100
        priority: 1100
      - address: 2001:db8:2::20
        gateway: 2001:db8:2::1
        dev: eth1
        table: 1106
        priority: 1106

- name: Drift check in a namespace, changing nothing
  mptcp.linux.mptcp_source_routing:
    netns: blue
    routes:
      - address: 198.51.100.20
        gateway: 198.51.100.1
        dev: eth1
  check_mode: true
  register: mptcp_routing_drift

- name: Converge - the listed addresses only; the rules of ours of any other address go
  mptcp.linux.mptcp_source_routing:
    exclusive: true
    routes:
      - address: 198.51.100.20
        gateway: 198.51.100.1
        dev: eth1
        table: 1100
        priority: 1100
      - address: 2001:db8:2::20
        gateway: 2001:db8:2::1
        dev: eth1
        table: 1106
        priority: 1106

- name: Remove the rule and routes of that address
  mptcp.linux.mptcp_source_routing:
    state: absent
    routes:
      - address: 198.51.100.20
        gateway: 198.51.100.1
        dev: eth1
"""

RETURN = r"""
routes:
  description:
    - Each entry of O(routes) as resolved (in check mode, as a real run would).
    - With O(state=absent), the table and priority of the rule removed (V(null) where there
      was none) and the prefix of the on-link route removed (V(null) where there was none).
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The address.
      type: str
    gateway:
      description: The gateway.
      type: str
    dev:
      description: The device.
      type: str
    table:
      description: The table of the address.
      type: int
    priority:
      description: The priority of its rule.
      type: int
    family:
      description: V(ipv4) or V(ipv6).
      type: str
    via:
      description: V(kernel) or V(networkmanager), who holds the rule and routes.
      type: str
    profile:
      description: The NetworkManager profile that holds them, V(null) with V(kernel).
      type: str
    prefix:
      description: The on-link subnet of the address on the device, whose route is in the table.
      type: str
  sample:
    - {"address": "198.51.100.20", "gateway": "198.51.100.1", "dev": "eth1", "table": 1000, "priority": 1000,
       "family": "ipv4", "via": "kernel", "profile": null, "prefix": "198.51.100.0/24"}
changes:
  description: One line per action taken (or, in check mode, that a real run would take), in order.
  returned: success
  type: list
  elements: str
  sample:
    - "add route '198.51.100.0/24 dev eth1' to IPv4 table 1000"
    - "add route 'default via 198.51.100.1 dev eth1' to IPv4 table 1000"
    - "add IPv4 rule '1000: from 198.51.100.20 lookup 1000'"
    - "delete IPv4 rule '1001: from 203.0.113.7 lookup 1001' (address not listed)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.routing.ensure import VIAS, ensure_source_routing
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import DEFAULT_PRIORITY_RANGE, DEFAULT_TABLE_RANGE

ROUTE_OPTIONS = dict(
    address=dict(type="str", required=True),
    gateway=dict(type="str", required=True),
    dev=dict(type="str", required=True),
    table=dict(type="int"),
    priority=dict(type="int"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            routes=dict(type="list", elements="dict", options=ROUTE_OPTIONS, required=True),
            exclusive=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            via=dict(type="str", choices=list(VIAS), default="auto"),
            table_range=dict(type="list", elements="int", default=list(DEFAULT_TABLE_RANGE)),
            priority_range=dict(type="list", elements="int", default=list(DEFAULT_PRIORITY_RANGE)),
            netns=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure_source_routing)


if __name__ == "__main__":
    main()
