# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files the role keeps for boot, written by mptcp_host: the oneshot unit that sets the
endpoints' source routes (those the kernel keeps) and the path manager's limits and
endpoints at boot, with the `ip` commands the modules' iproute2 backends build, so that
the unit and the modules cannot drift apart; and the drop-ins of the services: the one
that preloads the mptcpize library into a service, the one that makes a socket unit's
listener an MPTCP one (systemd 257+), and the one that keeps a Go program on TCP."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import boot_argv
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.unit_text import environment_word, exec_line

UNIT_HEAD = """\
# Managed by the Ansible role mptcp.linux.mptcp: changes made here are overwritten.
# Applies the endpoints' source routes (where NetworkManager does not keep them) and the
# MPTCP path manager's limits and endpoints at boot (they live in the kernel only and are
# lost at every reboot).
[Unit]
Description=MPTCP source routes, path-manager limits and endpoints (mptcp.linux)
Documentation=man:ip-mptcp(8)
Wants=network-online.target
After=network-online.target NetworkManager.service
"""
KEEP_GOING_NOTE = """\
# "-": a rule, route or endpoint that is there already (NetworkManager's, or a restart of
# this unit) is kept, and the commands after it still run.
"""
UNIT_TAIL = """
[Install]
WantedBy=multi-user.target
"""
DROPIN = """\
# Managed by the Ansible role mptcp.linux.mptcp: runs this service over MPTCP by
# preloading the mptcpize library, which turns its TCP sockets into MPTCP ones.
# Remove with the role's mptcp_state: absent (or drop the service from the list).
[Unit]
After=%s

[Service]
Environment=%s
"""
# No After= the boot unit here: sockets start before basic.target, the boot unit after
# network-online.target, so that would be an ordering cycle; the listener needs only
# net.mptcp.enabled, which systemd-sysctl sets before any socket unit starts.
SOCKET_DROPIN = """\
# Managed by the Ansible role mptcp.linux.mptcp: systemd (257 or later) makes this
# socket's listener an MPTCP one, so the service it activates gets MPTCP connections with
# no preload. Remove with the role's mptcp_state: absent (or drop the unit from the list).
[Socket]
SocketProtocol=mptcp
"""
GO_TCP_ONLY_DROPIN = """\
# Managed by the Ansible role mptcp.linux.mptcp: Go 1.24 and later listen over MPTCP by
# default once MPTCP is on; this program needs TCP (TCP_USER_TIMEOUT, TCP_MD5SIG, which
# MPTCP sockets lack), so Go's default is turned off for it. This replaces a GODEBUG the
# unit sets itself. Remove with the role's mptcp_state: absent (or drop the unit).
[Service]
Environment=%s
"""


def _endpoint(endpoint):
    # The role's variables leave out what is not set; the preflight (role_problems)
    # checked them already.
    return {"address": endpoint["address"], "dev": endpoint.get("dev") or None, "id": endpoint.get("id") or None,
            "port": endpoint.get("port") or None, "flags": list(endpoint.get("flags") or [])}


def boot_commands(ip, limits=None, endpoints=None, exclusive=False, routes=None):
    """[{argv, keep_going}]: the rules and routes of `routes` (resolved, as
    mptcp_source_routing returns them: the ones it keeps through the kernel), flush
    (exclusive), the limits given, then each endpoint added. Routes come first, so that a
    subflow from an endpoint finds its gateway from the start. keep_going where a failure
    must not stop the unit: an endpoint NetworkManager added already, a rule or route that
    is there already (the unit started again); either way the rest still runs."""
    if not ip:
        raise ValidationError("boot_commands expects the path of ip, got %r" % (ip,))
    commands = []
    for route in routes or []:
        for argv in boot_argv(route):
            commands.append({"argv": [ip] + list(argv), "keep_going": True})
    if exclusive:
        commands.append({"argv": [ip] + list(Iproute2Backend.FLUSH_ARGS), "keep_going": False})
    if limits:
        commands.append({"argv": [ip] + Iproute2Backend.limits_args(limits), "keep_going": False})
    for endpoint in endpoints or []:
        commands.append({"argv": [ip] + Iproute2Backend.add_args(_endpoint(endpoint)), "keep_going": True})
    return commands


def unit_text(ip, limits=None, endpoints=None, exclusive=False, routes=None, services=()):
    """The boot unit: the commands of boot_commands, one ExecStart= each ("-" where a
    failure must not stop the unit), ordered before the services moved onto MPTCP."""
    lines = [UNIT_HEAD]
    if services:
        lines.append("Before=%s\n" % " ".join(services))
    lines.append("\n[Service]\nType=oneshot\nRemainAfterExit=yes\n")
    previous_kept_going = False
    for command in boot_commands(ip, limits, endpoints, exclusive, routes):
        if command["keep_going"] and not previous_kept_going:
            lines.append(KEEP_GOING_NOTE)
        previous_kept_going = command["keep_going"]
        lines.append("ExecStart=%s%s\n" % ("-" if command["keep_going"] else "", exec_line(command["argv"])))
    lines.append(UNIT_TAIL)
    return "".join(lines)


def dropin_text(unit_name, library):
    """The drop-in of a service: after the boot unit, with the library preloaded."""
    return DROPIN % (unit_name, environment_word("LD_PRELOAD=" + library))


def socket_dropin_text():
    """The drop-in of a socket unit: an MPTCP listener."""
    return SOCKET_DROPIN


def go_tcp_only_dropin_text():
    """The drop-in of a Go service that must stay on TCP."""
    return GO_TCP_ONLY_DROPIN % environment_word("GODEBUG=multipathtcp=0")
