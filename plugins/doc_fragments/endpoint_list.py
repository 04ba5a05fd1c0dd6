# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The list of endpoints that mptcp_endpoint and mptcp_path_manager take, `exclusive`,
    and what check mode does with them."""

    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - Several endpoints, each a dict with the keys below. An endpoint is identified by
        its address and port.
      - With O(exclusive=true), an empty list removes every endpoint.
    type: list
    elements: dict
    suboptions:
      address:
        description: The IPv4 or IPv6 address, without prefix length.
        type: str
      id:
        description:
          - The endpoint id, 1 to 255. Left out, an existing endpoint keeps its id and the
            kernel numbers a new one.
        type: int
      dev:
        description: The interface the endpoint's subflows are bound to; it must exist in the namespace.
        type: str
      port:
        description: The port announced with the address (needs V(signal), without V(subflow)).
        type: int
      flags:
        description:
          - Any of V(signal), V(subflow), V(backup), V(fullmesh) and V(laminar). Left out,
            an existing endpoint's flags are left as they are; V([]) means no flags.
        type: list
        elements: str
  exclusive:
    description:
      - Also remove every endpoint not listed, so that the list is the whole desired state
        (in M(mptcp.linux.mptcp_endpoint), only with O(mptcp.linux.mptcp_endpoint#module:state=present)).
        Endpoints the kernel marked V(implicit) are left alone.
    type: bool
    default: false
attributes:
  check_mode:
    description:
      - Can run in check mode and return the changed status prediction without modifying
        the target, with the same RV(changes) and warnings as a real run.
      - The id of an endpoint the kernel is to number is unknown in check mode (V(null)).
    support: full
"""
