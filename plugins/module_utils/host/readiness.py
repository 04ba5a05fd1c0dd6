# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_host reads of the host before it plans (mptcp_facts' readers): MPTCP in the
kernel, the tools, NetworkManager's profiles and the reverse-path filter where the request
needs them; what is missing that packages bring; and what stops the run on this host,
all said at once, before anything changes. The messages are the role's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.host.other_managers import other_managers
from ansible_collections.mptcp.linux.plugins.module_utils.host.variables import nm_profile_problems
from ansible_collections.mptcp.linux.plugins.module_utils.info.gather import Gatherer
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.sockets import SOCKET_PROTOCOL_SINCE, takes_socket_protocol

NO_KERNEL = (
    "MPTCP is not available in the running kernel of %s (/proc/sys/net/mptcp/enabled does not exist). It needs a "
    "kernel built with CONFIG_MPTCP=y: upstream 5.6 or later, RHEL/Oracle Linux Red Hat Compatible Kernel "
    "8.6+/9/10, Oracle Linux UEK8 (UEK7 has no MPTCP: boot RHCK or UEK8), Fedora, Debian 12+, Ubuntu 22.04+. "
    "Where /boot/config-$(uname -r) exists, `grep CONFIG_MPTCP= /boot/config-$(uname -r)` tells; then reboot "
    "into such a kernel.")
NO_NMCLI = (
    "mptcp_nm_profiles lists %s, but %s has no NetworkManager (nmcli not found). Leave mptcp_nm_profiles empty "
    "for this host and give its addresses in mptcp_endpoints.")
NO_LIBRARY = (
    "mptcp_mptcpize_services lists %s, but %s has no mptcpize library (libmptcpwrap.so). Install mptcpize "
    "(Debian 12+, Ubuntu 22.04+) or mptcpd (RHEL 9+, Fedora), or set mptcp_install_packages to true (the role "
    "then installs it where it is missing); Debian 11 and RHEL 8 ship none.")
LIBRARY_ELSEWHERE = (
    "The mptcpize library found on %s, %s, is not under %s: the role preloads only a library that the "
    "distribution installed.")
OLD_SYSTEMD_SOCKETS = (
    "mptcp_mptcpize_services lists %s, but %s has %s: a socket unit's listener is made by systemd itself, and "
    "only systemd %d or later makes it an MPTCP one (SocketProtocol=mptcp; older systemd ignores that line and "
    "listens over TCP), while a preload in the service it activates cannot reach a socket systemd made. On this "
    "host list the service instead and turn its socket activation off (the service then makes its own listener, "
    "which the preload moves onto MPTCP), or leave the socket unit out.")
STRICT_RP_FILTER = (
    "The reverse-path filter of %s on %s is strict (net.ipv4.conf.all.rp_filter or the interface's is 1), and "
    "mptcp_rp_filter is leave: subflows whose packets come back on another interface are dropped. Set "
    "mptcp_rp_filter to loose (net.ipv4.conf.DEV.rp_filter=2), or loosen it yourself.")
NO_SYSTEMD = (
    "%s does not run systemd as its init (systemctl is-system-running: %s), and %s need it: nothing could load or enable "
    "their units. Set mptcp_persist to false, leave mptcp_mptcpize_services empty and mptcp_rejoin false for "
    "this host (what the role sets then lasts until the next boot).")
DEFAULT_IP = "/usr/sbin/ip"


def systemd_state(run, systemctl):
    """`systemctl is-system-running`'s word: `offline` where systemd is not the init (it
    looks for /run/systemd/system, as sd_booted(3))."""
    _rc, out, _err = run([systemctl, "is-system-running"])
    return (out or "").strip()


class HostReadiness:
    """What the host has, for a request."""

    def __init__(self, request, host):
        subsets = ["tools"]
        if request.state == "present" and request.nm_profiles:
            subsets.append("nm")
        if request.state == "present" and request.endpoint_devices:
            subsets.append("rp_filter")
        if request.state == "present" and request.sets_path_manager:
            # mptcpd or NetworkManager writing the same endpoints or limits (other_managers.py)
            subsets.append("managers")
        self._run = host.run
        self._systemctl = host.bin_path("systemctl")
        facts, unavailable = Gatherer(host.run, host.bin_path).gather(subsets)
        facts["unavailable"] = unavailable
        self.facts = facts
        tools = facts["tools"]
        self.ip = (tools.get("iproute2") or {}).get("path") or DEFAULT_IP
        self.ip_knows_mptcp = bool((tools.get("iproute2") or {}).get("ip_mptcp"))
        self.nmcli = (tools.get("nmcli") or {}).get("path")
        self.library = (tools.get("mptcpize") or {}).get("preload") or ""
        self.systemd_version = (tools.get("systemd") or {}).get("version")

    @property
    def supported(self):
        return self.facts["supported"]

    @property
    def managers(self):
        return self.facts.get("managers") or {}

    def other_managers(self, request):
        """(problems, warnings) of mptcpd and NetworkManager writing what the request sets."""
        return other_managers(request, self.managers)

    @property
    def rp_filter(self):
        return self.facts.get("rp_filter") or {}

    def missing(self, request):
        """What packages would bring and the request needs: ip with `ip mptcp`, and the
        mptcpize library where services are to be moved onto MPTCP."""
        missing = []
        if not self.ip_knows_mptcp:
            missing.append("ip_mptcp")
        if request.preload_services and not self.library:
            missing.append("mptcpize")
        return missing

    def problems(self, request, check_mode, library=True):
        """Why the request cannot be met on this host, each said in full (library: also
        whether the mptcpize library is there and may be preloaded)."""
        host = request.host_name
        problems = []
        if request.state == "present" and not self.supported:
            problems.append(NO_KERNEL % host)
        if request.nm_profiles and not self.nmcli:
            problems.append(NO_NMCLI % (", ".join(p["name"] for p in request.nm_profiles), host))
        if request.state == "present":
            problems += nm_profile_problems(request.nm_profiles, self.facts, host)
            problems += self.other_managers(request)[0]
            if request.preload_services and library:
                problems += self._library_problems(request, check_mode)
            if request.socket_units and not takes_socket_protocol(self.systemd_version):
                problems.append(OLD_SYSTEMD_SOCKETS % (", ".join(request.socket_units), host, self._systemd(),
                                                       SOCKET_PROTOCOL_SINCE))
            problems += self._systemd_problems(request)
        return problems

    def _systemd(self):
        if self.systemd_version is not None:
            return "systemd %d" % self.systemd_version
        if self.facts["tools"].get("systemd"):
            return "a systemd whose version systemctl --version does not tell"
        return "no systemd (systemctl not found)"

    def _systemd_problems(self, request):
        """A host whose init is not systemd (a container without it; Debian testing on a
        cgroup v1 host, whose systemd 262 exits at once) cannot take the units: said
        before any part runs, rather than after the unit files are written."""
        needs = [what for what, wanted in (
            ("mptcp_persist (the boot unit %s)" % request.unit_name, request.persists_path_manager),
            ("mptcp_mptcpize_services (%s)" % ", ".join(request.services), request.services),
            ("mptcp_rejoin (its service)", request.rejoin)) if wanted]
        # Without systemctl at all, the parts say so themselves (and the socket check above).
        if not needs or not self._systemctl:
            return []
        state = systemd_state(self._run, self._systemctl)
        if state == "offline":
            return [NO_SYSTEMD % (request.host_name, state, " and ".join(needs))]
        return []

    def _library_problems(self, request, check_mode):
        # In check mode on a host that lacks the package (its install only reported), the
        # library is unknown: the drop-ins are then left as they are (parts.py).
        if not self.library:
            return [] if check_mode else [NO_LIBRARY % (", ".join(request.preload_services), request.host_name)]
        if not request.library_allowed(self.library):
            return [LIBRARY_ELSEWHERE % (request.host_name, self.library, ", ".join(request.library_dirs))]
        return []
