#!/bin/sh
# Runs inside the debootstrapped chroot of the Debian testing (forky) lab image
# (tests/lab/no_systemd.py). Part of the image recipe: editing this file changes the
# image's tag, so the next run rebuilds it. forky's systemd 262 exits at once as PID 1 on
# cgroup v1 hosts (../../../shared/docs/lab.md): the image has no init of its own;
# init.sh starts dbus and NetworkManager.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# No service may start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

# The mirror's forky Release file had expired (seen): testing is not a stable release.
apt-get -o Acquire::Check-Valid-Until=false update -q
apt-get install -y -q --no-install-recommends \
    dbus network-manager iproute2 procps python3 python3-pyroute2
apt-get clean
rm -rf /var/lib/apt/lists/*
rm -f /usr/sbin/policy-rc.d

# NetworkManager manages only the profiles a test gives it; the far ends of the tests'
# veth pairs (peer*) are left alone.
cat > /etc/NetworkManager/conf.d/50-lab.conf <<'CONF'
[main]
no-auto-default=*

[keyfile]
unmanaged-devices=interface-name:peer*
CONF
rm -f /etc/NetworkManager/dispatcher.d/01-ifupdown

# Every container gets its own machine-id when init.sh starts dbus.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
