# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The options and attributes every module of the kernel path manager shares."""

    DOCUMENTATION = r"""
options:
  netns:
    description:
      - Act in this named network namespace (one C(ip netns) lists).
      - The module fails when it does not exist; it never creates one.
    type: str
  backend:
    description:
      - How to talk to the kernel.
      - V(auto) runs C(ip) where its C(ip mptcp) can do what the run asks (the flags it
        sets, changing flags in place), else uses pyroute2 where the target can import a
        version that works, else C(ip) still, which then says what it lacks. C(ip) comes
        first because a few C(ip) processes cost less than importing pyroute2 (2-5 ms
        each against 80-95 ms on Debian 12 and 13).
      - V(pyroute2) fails when pyroute2 is missing; V(iproute2) runs C(ip).
    type: str
    choices: [auto, pyroute2, iproute2]
    default: auto
attributes:
  idempotent:
    description: Running the module twice with the same options reports changed only the first time.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
seealso:
  - name: ip-mptcp(8)
    description: The iproute2 manual page of ip mptcp.
    link: https://man7.org/linux/man-pages/man8/ip-mptcp.8.html
"""
