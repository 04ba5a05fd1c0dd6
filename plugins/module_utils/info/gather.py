# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_info gathers, subset by subset, reading only the subsets asked for.

A host without MPTCP in its kernel, without NetworkManager, pyroute2 or ss gets
`supported: false` or an empty part, never a failure: each part that cannot be read is
left empty and `unavailable` says why. Only a namespace that does not exist fails (a
typo, as in the other modules)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.mptcp.linux.plugins.module_utils.command import remembering
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.info.managers import read_managers
from ansible_collections.mptcp.linux.plugins.module_utils.info.ss import read_sockets
from ansible_collections.mptcp.linux.plugins.module_utils.info.tools import read_tools
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import read_counters
from ansible_collections.mptcp.linux.plugins.module_utils.netns import NetnsContext, netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import NmClient
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import ordered
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import BACKEND_OPTIONS
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.proc_paths import MPTCP_ENABLED, MPTCP_SYSCTL_DIR, under_root
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import read_snapshot

SUBSETS = ("sysctl", "limits", "endpoints", "nm", "connections", "counters", "tools", "rp_filter", "managers")
# The argument spec mptcp_info and mptcp_facts share.
GATHER_OPTIONS = dict(
    gather_subset=dict(type="list", elements="str", default=["all"], choices=["all"] + list(SUBSETS)),
    **BACKEND_OPTIONS
)
# The fact each subset fills, and its value when it cannot be read.
EMPTY = {"sysctl": {}, "limits": {}, "endpoints": [], "nm": [], "connections": [], "counters": {}, "tools": {},
         "rp_filter": {}, "managers": {}}
FACT_NAMES = {"nm": "nm_profiles"}
ENABLED_PATH = under_root(MPTCP_ENABLED)


def resolve_subsets(asked):
    """['all'] or names -> the subsets to read, in SUBSETS order."""
    asked = set(asked or ["all"])
    return [name for name in SUBSETS if "all" in asked or name in asked]


class Gatherer:
    """run(argv) -> (rc, out, err) and which(name) -> path or None: how the module runs
    commands and finds them; netns: the namespace to look into (None: this one); root:
    where the file system starts, for finding libraries (a tmp_path in unit tests)."""

    def __init__(self, run, which, netns=None, backend="auto", root="/"):
        self.run = remembering(run)
        self.which = which
        self.netns = netns
        self.backend = backend
        self.root = root
        self.nm_version = None  # NetworkManager's, once nm() asked it: its endpoints depend on it
        if netns:
            netns_path(netns)  # a namespace that does not exist is a mistake: fail

    # --- one reader per subset; each returns the fact or raises MptcpError --------------
    def supported(self):
        with NetnsContext(self.netns):
            return os.path.exists(ENABLED_PATH)

    def sysctl(self):
        with NetnsContext(self.netns):
            snapshot = read_snapshot()
        return snapshot.normalised(sorted(snapshot.values))

    def _path_manager(self, read):
        backend = open_backend(self.backend, self.netns, self.run, self.which("ip"))
        try:
            return read(backend)
        finally:
            backend.close()

    def limits(self):
        return self._path_manager(lambda backend: backend.read_limits())

    def endpoints(self):
        return self._path_manager(lambda backend: backend.read_endpoints())

    def nm(self):
        nmcli = self.which("nmcli")
        if not nmcli:
            raise MptcpError("nmcli not found: NetworkManager is not installed")
        client = NmClient(self.run, nmcli)
        self.nm_version = client.check_ready()
        found = client.profiles()
        flags = client.read_flags_of([profile["uuid"] for profile in found])
        return [{"name": profile["name"], "uuid": profile["uuid"], "type": profile["type"],
                 "devices": profile["devices"], "mptcp_flags": ordered(flags[profile["uuid"]])}
                for profile in found]

    def connections(self):
        ss = self.which("ss")
        if not ss:
            raise MptcpError("ss not found (it comes with iproute2)")
        return read_sockets(self.run, ss, self.netns)

    def counters(self):
        with NetnsContext(self.netns):
            return read_counters()

    def tools(self):
        return read_tools(self.run, self.which, self.root)

    def rp_filter(self):
        """Each interface's reverse-path filter as the kernel applies it: a strict one
        drops subflows whose packets come back on another interface."""
        directory = under_root(rp_filter.IPV4_CONF_DIR, self.root)
        with NetnsContext(self.netns):
            if not os.path.isdir(directory):
                raise MptcpError("%s does not exist: no IPv4 in this network namespace" % directory)
            return rp_filter.report(rp_filter.read_values(self.root))

    def managers(self):
        """Who else sets endpoints, limits or net.mptcp keys: mptcpd, NetworkManager, the
        sysctl files read at boot (info/managers.py)."""
        directory = under_root(MPTCP_SYSCTL_DIR, self.root)
        with NetnsContext(self.netns):
            known = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
            enabled = None
            if "enabled" in known:
                with open(os.path.join(directory, "enabled")) as handle:
                    enabled = int(handle.read().strip() or 0)
        daemon = self.which("NetworkManager")
        nmcli = self.which("nmcli")
        default_flags = NmClient(self.run, nmcli, daemon=daemon).default_flags() if nmcli else None
        with NetnsContext(self.netns):
            return read_managers(self.run, self.which, self.nm, enabled, self.root, known, default_flags,
                                 lambda: self.nm_version)

    def gather(self, subsets):
        """-> (facts, unavailable): the facts of `subsets` plus `supported`, and for each
        part that could not be read, why."""
        facts = {"supported": self.supported()}
        unavailable = {}
        for subset in subsets:
            fact = FACT_NAMES.get(subset, subset)
            try:
                facts[fact] = getattr(self, subset)()
            except (MptcpError, OSError, IOError, ValueError) as exc:
                facts[fact] = type(EMPTY[subset])()
                unavailable[fact] = "%s" % exc
        if not facts["supported"]:
            unavailable.setdefault("supported", "this kernel has no MPTCP (no %s)" % ENABLED_PATH)
        return facts, unavailable


def _gather(params, host):
    """Read the subsets asked for. Fails only when the namespace asked for cannot be used
    (missing, or no right to enter it); every part that cannot be read is left empty
    instead, and named in `unavailable`."""
    gatherer = Gatherer(host.run, host.bin_path, params["netns"], params["backend"])
    facts, unavailable = gatherer.gather(resolve_subsets(params["gather_subset"]))
    facts["unavailable"] = unavailable
    return facts


# mptcp_info returned its data as facts until the developer guide's rule was applied.
FACTS_DEPRECATION = ("mptcp_info returns its data under `mptcp` now; its copy under ansible_facts.mptcp goes away "
                     "in 2.0.0 (the default of `facts` becomes false). Use mptcp.linux.mptcp_facts for facts, or "
                     "set facts=false")


def ensure(params, check_mode, host):
    """What mptcp_info does: the data in the result (`mptcp`), and as facts too where
    `facts` asks for it (unset: yes, deprecated)."""
    data = _gather(params, host)
    result = dict(changed=False, mptcp=data)
    facts = params.get("facts")
    if facts is None:
        host.deprecate(FACTS_DEPRECATION, version="2.0.0", collection_name="mptcp.linux")
        facts = True
    if facts:
        result["ansible_facts"] = {"mptcp": data}
    return result


def ensure_facts(params, check_mode, host):
    """What mptcp_facts does: the data as facts, ansible_facts.mptcp."""
    return dict(changed=False, ansible_facts={"mptcp": _gather(params, host)})
