# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Socket units onto MPTCP: systemd itself makes a socket unit's listener, so a preload in
the service it activates cannot change it; systemd 257 and later make an MPTCP listener
for `SocketProtocol=mptcp` in the unit's [Socket] section. Older systemd logs "Failed to
parse socket protocol, ignoring: mptcp" and goes on listening over TCP (seen on 252),
which is why the role refuses a socket unit there instead of writing a drop-in that does
nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# systemd's NEWS for 257: SocketProtocol= takes mptcp.
SOCKET_PROTOCOL_SINCE = 257


def is_socket(unit):
    return unit.endswith(".socket")


def takes_socket_protocol(systemd_version):
    return systemd_version is not None and systemd_version >= SOCKET_PROTOCOL_SINCE


def running_services(systemctl, sockets):
    """The services the sockets activate (Triggers=) that run now, in order. With Accept=no
    systemd refuses to start a socket again while its service runs ("Socket service X
    already active, refusing", the socket then stays down): these must be stopped before
    the socket restarts, and started after. With Accept=yes Triggers= is empty and the
    running connections' instances keep their sockets."""
    running = []
    for socket in sockets:
        for service in systemctl.triggers(socket):
            if service not in running and systemctl.is_active(service):
                running.append(service)
    return running
