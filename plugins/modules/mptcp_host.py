# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_host
short_description: Set MPTCP up on a host, or undo it, in one module call - what the role mptcp does
version_added: 1.2.0
description:
  - The one module call per host of the role C(mptcp.linux.mptcp). It reads the host (MPTCP
    in the kernel, the tools, NetworkManager's profiles and the endpoints' reverse-path
    filter where needed) and converges every part - the C(net.mptcp) settings now and in the
    sysctl file, the NetworkManager profiles' MPTCP flags, the endpoints' source routes, the
    path manager's limits and endpoints, the boot unit that sets routes, limits and endpoints
    at boot, and the drop-ins that move services onto MPTCP.
  - Each part runs the code of its own module - M(mptcp.linux.mptcp_sysctl),
    M(mptcp.linux.nm_mptcp_flags), M(mptcp.linux.mptcp_source_routing),
    M(mptcp.linux.mptcp_path_manager) (M(mptcp.linux.mptcp_endpoint) when undoing) and
    M(mptcp.linux.mptcp_systemd) - with the parameters the role would give it, so the
    checks, the changes, the diffs and the messages are theirs. Use those modules for one
    part alone.
  - The options are the role's variables without their C(mptcp_) prefix, and errors name
    the role's variables (C(mptcp_endpoints[0]...)).
  - Every option is checked before the host is read, and every part is planned, with its
    own checks on the host, before anything changes. The parts then apply in order as one
    batch - when one is refused, the parts already changed are undone, last first, and the
    module fails saying which part was refused and what was undone.
  - With O(state=absent) MPTCP is turned off now and at boot, the other settings of the
    sysctl file, the endpoints listed (all of them with O(endpoints_exclusive)), their source
    routes, the profiles' flags, the boot unit and every drop-in are removed.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - What the parts' modules need - a kernel with MPTCP, C(ip) with C(ip mptcp) or pyroute2,
    NetworkManager 1.40 or later for O(nm_profiles), systemd, and the mptcpize library for
    O(mptcpize_services).
options:
  state:
    description: V(present) sets MPTCP up as the other options say; V(absent) undoes all of it.
    type: str
    choices: [present, absent]
    default: present
  sysctl:
    description: C(net.mptcp) settings (the role's C(mptcp_sysctl)), now and at every boot, as M(mptcp.linux.mptcp_sysctl) takes them.
    type: dict
    default: {enabled: 1}
  sysctl_path:
    description: The sysctl file the role owns.
    type: path
    default: /etc/sysctl.d/90-mptcp.conf
  limits:
    description: The path manager's limits, V(subflows) and V(add_addr_accepted); V({}) leaves them as they are.
    type: dict
    default: {}
  endpoints:
    description:
      - The path manager's endpoints, as M(mptcp.linux.mptcp_endpoint) takes them, and, for
        an address whose path needs its own gateway, O(endpoints[].gateway),
        O(endpoints[].table) and O(endpoints[].priority), which
        M(mptcp.linux.mptcp_source_routing) sets up.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The IPv4 or IPv6 address, without prefix length.
        type: str
      id:
        description: The endpoint id, 1 to 255.
        type: int
      dev:
        description: The interface of the endpoint.
        type: str
      port:
        description: The port announced with the address.
        type: int
      flags:
        description: The endpoint's flags (V(signal), V(subflow), V(backup), V(fullmesh), V(laminar)).
        type: list
        elements: str
      gateway:
        description: The router on this address's path; the address gets a routing table and a rule of its own.
        type: str
      table:
        description: The routing table of the address (with O(endpoints[].gateway)).
        type: int
      priority:
        description: The priority of its rule (with O(endpoints[].gateway)).
        type: int
  endpoints_exclusive:
    description: Remove every endpoint not listed (also those NetworkManager added).
    type: bool
    default: false
  routing_via:
    description: Who keeps the source routes, as M(mptcp.linux.mptcp_source_routing)'s C(via).
    type: str
    choices: [auto, kernel, networkmanager]
    default: auto
  routing_table_range:
    description: The first and last routing table the source routing may choose.
    type: list
    elements: int
    default: [1000, 1999]
  routing_priority_range:
    description: The first and last rule priority the source routing may choose.
    type: list
    elements: int
    default: [1000, 1999]
  rp_filter:
    description:
      - V(loose) sets C(net.ipv4.conf.DEV.rp_filter=2) now and at boot for the endpoints'
        interfaces where the kernel filters strictly; V(leave) only warns of a strict one.
    type: str
    choices: [loose, leave]
    default: loose
  other_managers:
    description:
      - What to do where mptcpd runs (or starts at boot) with a plugin that writes the path manager's endpoints or
        limits (C(addr_adv)) and O(endpoints), O(endpoints_exclusive) or O(limits) ask to set them.
      - V(refuse) fails before anything changes, naming mptcpd, its plugins and its configuration; V(warn) warns and
        sets them anyway.
      - NetworkManager setting its own endpoint for an address of O(endpoints), and a sysctl file that wins at boot
        over O(sysctl_path), are warned of either way.
    type: str
    choices: [refuse, warn]
    default: refuse
    version_added: 1.2.0
  nm_profiles:
    description: NetworkManager profiles and their C(connection.mptcp-flags).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The profile's name or UUID.
        type: str
        required: true
      flags:
        description: The flags, as M(mptcp.linux.nm_mptcp_flags) takes them.
        type: list
        elements: str
        required: true
  persist:
    description: Keep limits, endpoints and the kernel-kept source routes across reboots (the boot unit).
    type: bool
    default: true
  mptcpize_services:
    description:
      - systemd units to run over MPTCP, each by a drop-in O(dropin_name) in O(unit_dir).
      - A service (C(nginx) means C(nginx.service)) - the drop-in preloads the mptcpize
        library, which turns the service's TCP sockets into MPTCP ones.
      - A socket unit (C(echo.socket)) - the drop-in sets C(SocketProtocol=mptcp), so systemd
        makes the listener an MPTCP one and the services it activates get MPTCP connections
        with no preload. This needs systemd 257 or later (Debian 13, RHEL 10, Fedora 42);
        on an older systemd, which ignores that line and listens over TCP, and where a
        preload in the service cannot reach the socket systemd made, the module fails
        before anything changes, saying so. Socket units are supported since 1.2.0.
    type: list
    elements: str
    default: []
  go_services_tcp_only:
    description:
      - Services running Go programs that must stay on TCP. Go 1.24 and later make their
        listeners MPTCP ones by default wherever MPTCP is on (which this module turns on);
        MPTCP sockets lack C(TCP_USER_TIMEOUT) and C(TCP_MD5SIG), so a program that relies
        on them must opt out. Each service gets the drop-in O(dropin_name) with
        C(Environment="GODEBUG=multipathtcp=0") (Go's own switch; older Go ignores it).
      - The drop-in's C(GODEBUG) replaces one the unit sets itself. A program that asks
        for MPTCP in its code (C(SetMultipathTCP(true))) keeps it, and a socket-activated
        Go service's listener is systemd's, which C(GODEBUG) does not reach.
      - Services only (C(name) means C(name.service)), and none that O(mptcpize_services) lists.
    type: list
    elements: str
    default: []
    version_added: 1.2.0
  unit_name:
    description: The boot unit's name.
    type: str
    default: mptcp-pm.service
  dropin_name:
    description: The drop-ins' file name.
    type: str
    default: 50-mptcp.conf
  unit_dir:
    description: Where the boot unit and the drop-in directories are.
    type: path
    default: /etc/systemd/system
  library_dirs:
    description: Where a mptcpize library must be to be preloaded (one the distribution installed).
    type: list
    elements: str
    default: [/usr/lib, /usr/lib64, /lib, /lib64, /usr/local/lib]
  missing_packages:
    description:
      - V(report) - where the host lacks C(ip mptcp), or the mptcpize library that
        O(mptcpize_services) needs, change nothing and return what is missing in
        RV(missing), for packages to be installed and the module called again (the role does).
      - V(fail) - go on; a missing library is then an error (in check mode the drop-ins are left as they are).
    type: str
    choices: [report, fail]
    default: fail
  host_name:
    description: How the messages name this host (the role gives C(inventory_hostname)).
    type: str
  rejoin:
    description:
      - V(true) - install mptcp-rejoin, a small service (Python standard library only) that adds
        each of O(endpoints) again, with its id, flags, port and dev, when its address comes back
        to its interface or its interface carries again after it went down, so that the open
        connections get their subflow from it again (the kernel's path manager never reopens a
        subflow that closed on error). Its program is O(rejoin_program), its endpoint list
        O(rejoin_config), its unit C(mptcp-rejoin.service) in O(unit_dir), enabled and running;
        restarted when one of them changed. Needs systemd and at least one endpoint.
      - V(false) - mptcp-rejoin stopped and its files removed, where it is installed.
      - With O(state=absent) it is removed whatever this says.
      - For hosts without NetworkManager, which re-adds the endpoints of its profiles itself.
    type: bool
    default: false
  rejoin_program:
    description: Where mptcp-rejoin's program is written (run by the Python this module runs with).
    type: path
    default: /usr/local/lib/mptcp-rejoin.py
  rejoin_config:
    description: Where mptcp-rejoin's endpoint list (JSON) is written.
    type: path
    default: /etc/mptcp-rejoin.json
attributes:
  check_mode:
    description: Plans every part and reports what a real run would change, with each part's diff, and changes nothing.
    support: full
  diff_mode:
    description: The diffs of the parts that change, as their modules give them.
    support: full
  idempotent:
    description: A second run with the same options reports no change.
    support: full
  platform:
    description: Linux.
    support: full
    platforms: linux
notes:
  - Each part takes the lock its own module takes, so runs of this module and of the parts'
    modules on one host take turns.
  - A run that changes something reads and plans twice - once to check every part before
    anything changes, once as it applies - since one part's change can alter what the
    next one finds (NetworkManager removes the endpoint of an address it stops managing).
seealso:
  - module: mptcp.linux.mptcp_sysctl
  - module: mptcp.linux.nm_mptcp_flags
  - module: mptcp.linux.mptcp_source_routing
  - module: mptcp.linux.mptcp_path_manager
  - module: mptcp.linux.mptcp_systemd
"""

EXAMPLES = r"""
- name: A server that announces its second address, with iperf3 moved onto MPTCP
  mptcp.linux.mptcp_host:
    sysctl:
      enabled: 1
      add_addr_timeout: 60
    limits:
      subflows: 2
      add_addr_accepted: 0
    endpoints:
      - address: 198.51.100.10
        dev: eth1
        flags: [signal]
    nm_profiles:
      - name: eth1
        flags: [disabled]
    mptcpize_services: [iperf3, echo.socket]
    go_services_tcp_only: [etcd]
  register: mptcp_host

- name: Restart the services whose drop-in changed
  ansible.builtin.systemd_service:
    name: "{{ item }}"
    state: restarted
  loop: "{{ mptcp_host.services_changed }}"

- name: Drift check, changing nothing
  mptcp.linux.mptcp_host:
    limits:
      subflows: 2
  check_mode: true
  diff: true
  register: mptcp_drift

- name: Undo it all, MPTCP off
  mptcp.linux.mptcp_host:
    state: absent
    endpoints:
      - address: 198.51.100.10
"""

RETURN = r"""
parts:
  description:
    - Each part that ran, in order, with what its module returns (its C(changed), C(diff)
      with diff mode, C(changes) or C(files_changed), ...), its V(name) (V(sysctl),
      V(sysctl_file), V(networkmanager), V(routing), V(path_manager), V(endpoints),
      V(systemd), V(rejoin)) and the V(module) whose code it ran.
  returned: always
  type: list
  elements: dict
  sample:
    - {"name": "path_manager", "module": "mptcp.linux.mptcp_path_manager", "changed": true,
       "changes": ["set limits: subflows 4 -> 2"]}
changed_parts:
  description: The names of the parts that changed (that would, in check mode).
  returned: always
  type: list
  elements: str
  sample: [sysctl, path_manager]
services_changed:
  description: The units (services and socket units) whose drop-in was written or removed; they need a restart.
  returned: always
  type: list
  elements: str
  sample: [iperf3.service, echo.socket]
socket_services_running:
  description:
    - The running services that the socket units of RV(services_changed) activate (their
      C(Triggers=); none for C(Accept=yes) sockets). systemd refuses to start a socket
      again while its service runs, so these are to be stopped before the sockets restart
      and started after (the role's handlers do).
  returned: always
  type: list
  elements: str
  sample: [echo.service]
  version_added: 1.2.0
missing:
  description: What the host lacks that packages bring - V(ip_mptcp), V(mptcpize).
  returned: always
  type: list
  elements: str
  sample: [mptcpize]
mptcp:
  description:
    - What was read of the host, as M(mptcp.linux.mptcp_facts) gives it (the subsets V(tools), V(nm), V(rp_filter) and
      V(managers) where needed).
  returned: always
  type: dict
state:
  description: The O(state) converged to.
  returned: always
  type: str
  sample: present
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.host.ensure import ensure_host
from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import ENDPOINT_OPTIONS
from ansible_collections.mptcp.linux.plugins.module_utils.routing.ensure import VIAS
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import DEFAULT_PRIORITY_RANGE, DEFAULT_TABLE_RANGE

HOST_ENDPOINT_OPTIONS = dict(ENDPOINT_OPTIONS, gateway=dict(type="str"), table=dict(type="int"), priority=dict(type="int"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            sysctl=dict(type="dict", default={"enabled": 1}),
            sysctl_path=dict(type="path", default="/etc/sysctl.d/90-mptcp.conf"),
            limits=dict(type="dict", default={}),
            endpoints=dict(type="list", elements="dict", options=HOST_ENDPOINT_OPTIONS, default=[]),
            endpoints_exclusive=dict(type="bool", default=False),
            routing_via=dict(type="str", choices=list(VIAS), default="auto"),
            routing_table_range=dict(type="list", elements="int", default=list(DEFAULT_TABLE_RANGE)),
            routing_priority_range=dict(type="list", elements="int", default=list(DEFAULT_PRIORITY_RANGE)),
            rp_filter=dict(type="str", choices=["loose", "leave"], default="loose"),
            other_managers=dict(type="str", choices=["refuse", "warn"], default="refuse"),
            nm_profiles=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                flags=dict(type="list", elements="str", required=True),
            )),
            persist=dict(type="bool", default=True),
            mptcpize_services=dict(type="list", elements="str", default=[]),
            go_services_tcp_only=dict(type="list", elements="str", default=[]),
            unit_name=dict(type="str", default="mptcp-pm.service"),
            dropin_name=dict(type="str", default="50-mptcp.conf"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            library_dirs=dict(type="list", elements="str", default=["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib"]),
            missing_packages=dict(type="str", choices=["report", "fail"], default="fail"),
            host_name=dict(type="str"),
            rejoin=dict(type="bool", default=False),
            rejoin_program=dict(type="path", default="/usr/local/lib/mptcp-rejoin.py"),
            rejoin_config=dict(type="path", default="/etc/mptcp-rejoin.json"),
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure_host)


if __name__ == "__main__":
    main()
