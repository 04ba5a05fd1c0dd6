# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_info
short_description: Read what a host has for Multipath TCP
version_added: 1.0.0
description:
  - Reads whether the kernel has MPTCP, its C(net.mptcp.*) settings, the path manager's
    limits and endpoints, the NetworkManager profiles' MPTCP flags, the open MPTCP
    sockets, the C(MPTcpExt) counters, the MPTCP tools installed and each interface's
    reverse-path filter (a strict one drops subflows), and who else manages them (mptcpd,
    NetworkManager's own endpoints, the sysctl files read at boot), and returns them
    in its result under C(mptcp), for reports, asserts and drift checks.
  - M(mptcp.linux.mptcp_facts) returns the same as facts. Until 2.0.0 this module also
    returns them as facts, under C(ansible_facts.mptcp), unless O(facts=false).
  - Only the subsets asked for in O(gather_subset) are read.
  - A host without MPTCP, NetworkManager, pyroute2 or C(ss) gets C(supported=false) or an
    empty part, never a failure; C(unavailable) says why a part is empty.
seealso:
  - module: mptcp.linux.mptcp_facts
author:
  - mptcp.linux contributors (@mptcp-linux)
options:
  facts:
    description:
      - Return the data as facts too, under C(ansible_facts.mptcp), as this module did
        before 1.2.0.
      - Left unset, it is V(true) and a deprecation warning says that the default becomes
        V(false) in 2.0.0. Use M(mptcp.linux.mptcp_facts) for facts.
    type: bool
    version_added: 1.2.0
extends_documentation_fragment:
  - mptcp.linux.path_manager
  - mptcp.linux.gather
"""

EXAMPLES = r"""
- name: Read everything MPTCP
  mptcp.linux.mptcp_info:
    facts: false
  register: mptcp_host

- name: Fail when MPTCP is off or the host announces no address
  ansible.builtin.assert:
    that:
      - mptcp_host.mptcp.supported
      - mptcp_host.mptcp.sysctl.enabled == 1
      - mptcp_host.mptcp.endpoints | selectattr('flags', 'contains', 'signal') | list | length > 0
    fail_msg: "MPTCP is not set up: {{ mptcp_host.mptcp.unavailable }}"

- name: Read only the open connections and the counters, inside a namespace
  mptcp.linux.mptcp_info:
    gather_subset: [connections, counters]
    netns: blue
    facts: false
  register: mptcp_blue

- name: Show how many subflows each connection has
  ansible.builtin.debug:
    msg: "{{ mptcp_blue.mptcp.connections | map(attribute='subflows') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The same data as facts, under C(mptcp) (deprecated, see O(facts)).
  returned: unless O(facts=false)
  type: dict
  sample: {"mptcp": {"supported": true, "unavailable": {}}}
mptcp:
  description: What the host has for MPTCP. Only the parts asked for are there, besides C(supported) and C(unavailable).
  returned: always
  type: dict
  contains:
    supported:
      description: Whether the kernel has MPTCP (C(/proc/sys/net/mptcp/enabled) exists).
      type: bool
      returned: always
      sample: true
    sysctl:
      description: Every C(net.mptcp.*) key of the kernel by its short name; numbers as integers.
      type: dict
      returned: when asked for
      sample: {"enabled": 1, "add_addr_timeout": 120, "scheduler": "default", "available_schedulers": "default"}
    limits:
      description: The path manager's limits.
      type: dict
      returned: when asked for
      sample: {"subflows": 2, "add_addr_accepted": 0}
    endpoints:
      description: The path manager's endpoints, as M(mptcp.linux.mptcp_endpoint) returns them.
      type: list
      elements: dict
      returned: when asked for
      sample: [{"id": 1, "address": "192.0.2.10", "port": null, "dev": "eth1", "flags": ["subflow"]}]
    nm_profiles:
      description:
        - The NetworkManager profiles (only where NetworkManager runs), with C(connection.mptcp-flags) as names; V([]) is
          NetworkManager's default.
      type: list
      elements: dict
      returned: when asked for
      sample: [{"name": "uplink2", "uuid": "0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61", "type": "802-3-ethernet",
                "devices": ["eth1"], "mptcp_flags": ["enabled", "subflow"]}]
    connections:
      description:
        - Each MPTCP socket, listening ones included. C(subflows) counts the extra subflows (a connection with one join
          has two paths and C(subflows=1)); C(fallback) is true when it fell back to TCP.
      type: list
      elements: dict
      returned: when asked for
      sample: [{"state": "ESTAB", "local": {"address": "192.0.2.10", "port": 40122, "dev": null},
                "remote": {"address": "198.51.100.2", "port": 5201, "dev": null}, "subflows": 1, "token": "c5c9dd2d",
                "fallback": false, "subflows_max": 2, "add_addr_signal": 0, "add_addr_accepted": 0,
                "add_addr_signal_max": 0, "add_addr_accepted_max": 2}]
    counters:
      description: Every C(MPTcpExt) counter of C(/proc/net/netstat) (what C(nstat -asz) shows as C(MPTcpExt*)).
      type: dict
      returned: when asked for
      sample: {"MPCapableSYNTX": 4, "MPJoinSynTx": 2, "MPJoinSynAckRx": 2}
    tools:
      description:
        - The tools found; a missing one is V(null).
        - C(mptcpize.preload) is the preload library where it really is (symlinks resolved).
        - C(systemd.version) is the number C(systemctl --version) gives (257 and later take C(SocketProtocol=mptcp)).
      type: dict
      returned: when asked for
      sample: {"iproute2": {"path": "/usr/sbin/ip", "version": "6.1.0", "ip_mptcp": true}, "pyroute2": "0.7.2",
               "nmcli": {"path": "/usr/bin/nmcli", "version": "1.42.4"},
               "mptcpize": {"path": "/usr/bin/mptcpize",
                            "preload": "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"},
               "systemd": {"path": "/usr/bin/systemctl", "version": 257}}
    rp_filter:
      description:
        - Each interface's reverse-path filter (V(gather_subset=rp_filter)), by interface name.
        - C(all) is C(net.ipv4.conf.all.rp_filter), C(dev) the interface's own, C(effective) what the kernel applies,
          the larger of the two (0 off, 1 strict, 2 loose), and C(strict) whether that is 1, which drops a subflow whose
          packets come back on an interface the reverse route does not use.
      type: dict
      returned: when asked for
      version_added: 1.2.0
      sample: {"eth0": {"all": 1, "dev": 2, "effective": 2, "strict": false},
               "eth1": {"all": 1, "dev": 0, "effective": 1, "strict": true}}
    managers:
      description:
        - Who else sets what the collection sets (V(gather_subset=managers)).
        - C(mptcpd) - C(installed), C(unit) (C(mptcp.service), its name upstream and in Debian), C(running) (a
          process in this network namespace; C(pids)), C(enabled) (starts at boot), C(config)
          (C(/etc/mptcpd/mptcpd.conf) where it exists), C(plugin_dir), C(path_manager), C(plugins)
          (what it loads - C(load-plugins) from its command line or its configuration, else every plugin of
          C(plugin_dir)), C(unknown_plugins) (not known to this collection), C(addr_flags) and C(writes) - what its
          plugins write of the in-kernel path manager (V(endpoints) and V(limits) with C(addr_adv)).
        - C(networkmanager) - C(running), C(unread) (why the profiles were not read - NetworkManager not running, or
          older than 1.40, which sets no MPTCP endpoints), and C(endpoints), the endpoints NetworkManager sets itself - one per address of
          each active profile whose C(connection.mptcp-flags) are not disabled, while C(net.mptcp.enabled) is 1 (unless
          also-without-sysctl) and the device has a default route of that family in the main table (unless
          also-without-default-route); none for loopback, link-local, ULA and temporary addresses. The kernel keeps
          no owner with an endpoint - an endpoint of the path manager with one of these addresses is NetworkManager's
          (or set over it).
        - C(sysctl_boot) - each C(net.mptcp) key a sysctl file sets at boot (short name), the C(value) and C(file) that
          win in systemd-sysctl's order (C(/etc/sysctl.d), C(/run/sysctl.d), C(/usr/local/lib/sysctl.d),
          C(/usr/lib/sysctl.d), by file name, the later winning; a name in an earlier directory hides the same name
          in a later one; C(/etc/sysctl.conf) last) and C(files), every file that sets it, in that order.
      type: dict
      returned: when asked for
      version_added: 1.2.0
      sample: {"mptcpd": {"installed": true, "unit": "mptcp.service", "running": true, "pids": [212], "enabled": true,
                          "config": "/etc/mptcpd/mptcpd.conf", "plugin_dir": "/usr/lib/x86_64-linux-gnu/mptcpd",
                          "path_manager": "addr_adv", "plugins": ["addr_adv", "sspi"], "unknown_plugins": [],
                          "addr_flags": ["subflow"], "writes": ["endpoints", "limits"]},
               "networkmanager": {"running": true, "endpoints": [{"address": "192.0.2.10", "dev": "eth0",
                                  "profile": "uplink1", "uuid": "6c8a1f34-4b7e-4cf0-9a8c-1d3c52b1f0a1",
                                  "flags": ["subflow"]}]},
               "sysctl_boot": {"enabled": {"value": 0, "file": "/etc/sysctl.d/99-local.conf",
                                           "files": [{"file": "/etc/sysctl.d/90-mptcp.conf", "value": 1},
                                                     {"file": "/etc/sysctl.d/99-local.conf", "value": 0}]}}}
    unavailable:
      description: For each part that could not be read (left empty), why.
      type: dict
      returned: always
      sample: {"nm_profiles": "nmcli not found: NetworkManager is not installed"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.info.gather import GATHER_OPTIONS, ensure
from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            GATHER_OPTIONS,
            facts=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    run_module(module, ensure)


if __name__ == "__main__":
    main()
