#!/bin/sh
# The main process of a lab host without systemd (tests/lab/no_systemd.py), under
# podman's --init (catatonit as PID 1, which reaps what Ansible's modules leave): the
# system bus, then NetworkManager in the foreground, as systemd would start them.
set -eu
# The images leave /etc/machine-id empty (systemd fills it at boot; dbus wants one).
[ -s /etc/machine-id ] || dbus-uuidgen > /etc/machine-id
mkdir -p /run/dbus
rm -f /run/dbus/pid
dbus-daemon --system --fork
exec /usr/sbin/NetworkManager --no-daemon
