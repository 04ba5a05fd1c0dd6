# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel shows, for deciding whether NetworkManager's MPTCP flags can take
effect and for checking that they did: net.mptcp.enabled, the main table's default
routes, a device's addresses and the MPTCP endpoints (`ip -j ...`, argument lists; the
endpoints parsed as the path-manager modules parse them)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import parse_endpoints
from ansible_collections.mptcp.linux.plugins.module_utils.proc_paths import MPTCP_ENABLED, under_root

FAMILIES = {"inet": 4, "inet6": 6}
# NetworkManager makes no endpoint for these (its connection.mptcp-flags documentation).
_ULA = ipaddress.ip_network(u"fc00::/7")


def read_mptcp_enabled(root="/"):
    """net.mptcp.enabled of this network namespace: True, False, or None when the kernel
    has no MPTCP."""
    path = under_root(MPTCP_ENABLED, root)
    try:
        with open(path) as handle:
            return handle.read().strip() != "0"
    except (IOError, OSError):
        return None


def _json(out, what):
    try:
        return json.loads(out) if out and out.strip() else []
    except ValueError:
        raise MptcpError("cannot read `%s` output as JSON: %r" % (what, out[:200]))


def has_default_route(out):
    """`ip -j -4|-6 route show default table main` -> whether a unicast default route is
    there (iproute2 prints `type` only for the other route types)."""
    routes = _json(out, "ip -j route show default")
    return any(route.get("type", "unicast") == "unicast" for route in routes)


def endpoint_candidate(entry):
    """Whether NetworkManager would make an endpoint for this `addr_info` entry: not
    loopback, not link-local, not an IPv6 ULA, not a temporary (privacy) address."""
    address = ipaddress.ip_address(u"%s" % entry["local"])
    if address.is_loopback or address.is_link_local:
        return False
    if address.version == 6 and (address in _ULA or entry.get("temporary")):
        return False
    return True


def parse_addresses(out):
    """`ip -j address show dev DEV` -> [(address, family 4|6, endpoint candidate)]."""
    addresses = []
    for link in _json(out, "ip -j address show"):
        for entry in link.get("addr_info", []):
            family = FAMILIES.get(entry.get("family"))
            if family and entry.get("local"):
                addresses.append((entry["local"], family, endpoint_candidate(entry)))
    return addresses


class HostReader:
    """Runs `ip` through `run(argv) -> (rc, out, err)`; `root` is where /proc is found."""

    def __init__(self, run, ip, root="/"):
        self._run = run
        self._ip = ip
        self.root = root

    def _ip_call(self, args):
        argv = [self._ip] + list(args)
        rc, out, err = self._run(argv)
        if rc != 0:
            raise MptcpError("ip %s exited %d: %s" % (" ".join(args), rc, (err or out).strip()))
        return out

    def mptcp_enabled(self):
        return read_mptcp_enabled(self.root)

    def default_route(self, family):
        return has_default_route(self._ip_call(
            ["-j", "-%d" % family, "route", "show", "default", "table", "main"]))

    def addresses(self, device):
        return parse_addresses(self._ip_call(["-j", "address", "show", "dev", device]))

    def endpoints(self):
        return parse_endpoints(self._ip_call(["-j", "mptcp", "endpoint", "show"]))
