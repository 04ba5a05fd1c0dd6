# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What mptcp_info and mptcp_facts share: the parts to read, and how they run."""

    DOCUMENTATION = r"""
requirements:
  - Linux. Each part uses what it needs when the host has it; none is required.
options:
  gather_subset:
    description:
      - What to read. V(all) reads everything.
      - V(sysctl) reads every C(net.mptcp.*) key the kernel has; V(limits) and
        V(endpoints) the path manager; V(nm) the NetworkManager profiles (with
        C(nmcli)); V(connections) the MPTCP sockets (C(ss -Mnai)); V(counters) the
        C(MPTcpExt) counters of C(/proc/net/netstat); V(tools) the tools installed;
        V(rp_filter) (since 1.2.0) each interface's reverse-path filter,
        C(/proc/sys/net/ipv4/conf/*/rp_filter), as the kernel applies it;
        V(managers) (since 1.2.0) who else sets endpoints, limits and C(net.mptcp) keys -
        mptcpd and its plugins, the endpoints NetworkManager sets for its profiles, and
        the sysctl file that sets each C(net.mptcp) key at boot.
    type: list
    elements: str
    choices: [all, sysctl, limits, endpoints, nm, connections, counters, tools, rp_filter, managers]
    default: [all]
notes:
  - With O(netns), everything but V(nm) and V(tools) is read in that namespace.
    NetworkManager's profiles belong to the host.
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so has no diff.
    support: none
seealso:
  - module: mptcp.linux.mptcp_endpoint
  - module: mptcp.linux.mptcp_limits
"""
