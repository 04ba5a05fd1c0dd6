# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three files of mptcp-rejoin on a host, as text: the program (daemon.py, as shipped to
the host inside the module's payload), its endpoint list and its systemd unit."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import pkgutil

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin import daemon
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.unit_text import exec_line

UNIT_NAME = "mptcp-rejoin.service"
ENDPOINT_KEYS = ("address", "dev", "id", "port", "flags")
UNIT = """\
# Managed by the Ansible role mptcp.linux.mptcp (mptcp_rejoin): changes made here are overwritten.
# Adds an MPTCP endpoint again when its address or its link comes back, so that the open
# connections get their subflow from it again (the kernel's path manager does not reopen
# a subflow that closed).
[Unit]
Description=MPTCP endpoints added again when their path comes back (mptcp.linux)
Documentation=man:ip-mptcp(8)
After=network.target %(after)s

[Service]
ExecStart=%(exec)s
Restart=on-failure
RestartSec=2
# It reads rtnetlink and runs `ip mptcp endpoint` (generic netlink, CAP_NET_ADMIN): that
# capability and netlink sockets are all it keeps. The file system is read-only to it and
# it sees no home, devices, kernel tunables, logs or control groups. In a container where
# systemd may not make mount namespaces (no CAP_SYS_ADMIN), systemd leaves the mount
# directives out and still starts the service; the others hold there too.
CapabilityBoundingSet=CAP_NET_ADMIN
NoNewPrivileges=yes
RestrictAddressFamilies=AF_NETLINK AF_UNIX
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
UMask=0077

[Install]
WantedBy=multi-user.target
"""


def program_text():
    """daemon.py's source: read through its package's loader, which also reads it from the
    zip Ansible sends a module in."""
    data = pkgutil.get_data(daemon.__name__.rsplit(".", 1)[0], "daemon.py")
    if data is None:
        raise MptcpError("the source of mptcp-rejoin (rejoin/daemon.py) is not in this module's payload")
    return data.decode("utf-8")


def config_text(ip, endpoints, settle=0.5):
    """The endpoint list the daemon watches: the path manager's endpoints as listed."""
    listed = [dict((key, e[key]) for key in ENDPOINT_KEYS if e.get(key) not in (None, "", [])) for e in endpoints]
    return json.dumps(dict(ip=ip, settle=settle, endpoints=listed), indent=2, sort_keys=True) + "\n"


def unit_text(python, program, config, after_unit):
    return UNIT % dict(exec=exec_line([python, program, config]), after=after_unit)
