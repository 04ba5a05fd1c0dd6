#!/bin/sh
# Runs inside the debootstrapped chroot of a lab image (lab.py build). Part of the image
# recipe: editing this file changes the image's tag, so the next `make lab` rebuilds it.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# No service may start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

apt-get update -q
# mptcpize came with mptcpd into bookworm: bullseye ships none (as RHEL 8 ships none), so
# its image has none, and the role's refusal is tested there.
. /etc/os-release
case "$VERSION_CODENAME" in
    bullseye) mptcpize="" ;;
    *) mptcpize="mptcpize libmptcpwrap0" ;;
esac
# --no-install-recommends keeps polkit and mptcpd (whose units fail in a container) out.
# shellcheck disable=SC2086 # $mptcpize is a list of package names
apt-get install -y -q --no-install-recommends \
    systemd systemd-sysv dbus network-manager iproute2 iputils-ping procps \
    python3 python3-pyroute2 iperf3 $mptcpize ca-certificates \
    openssh-server sudo
apt-get clean
rm -rf /var/lib/apt/lists/*

rm -f /usr/sbin/policy-rc.d

# The way in, as a fleet is reached: SSH as an unprivileged user who becomes root with
# sudo. lab.py up puts the lab's public key into ~lab/.ssh/authorized_keys. The image
# carries no host keys: every host makes its own at its first boot.
useradd --create-home --shell /bin/bash lab
printf 'lab ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/lab
chmod 0440 /etc/sudoers.d/lab
# Lingering keeps the user's systemd manager running: stopped after the last session, it
# hung for 2 minutes on this machine's cgroup v1 ("Processes still around after final
# SIGKILL") and every login waited for it (Ansible: "Timeout waiting for privilege
# escalation prompt").
mkdir -p /var/lib/systemd/linger
touch /var/lib/systemd/linger/lab
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/50-lab-host-keys.conf <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
systemctl enable ssh.service

# NetworkManager owns the interfaces; the lab gives it keyfile profiles at `up`. Podman
# has already put the addresses on eth0/eth1/mgmt0 when NetworkManager starts: without
# keep-configuration=no it would only "assume" them in generated in-memory profiles and
# never activate ours (seen on NM 1.42).
systemctl enable NetworkManager.service
cat > /etc/NetworkManager/conf.d/50-lab.conf <<'CONF'
[main]
no-auto-default=*

[device-lab]
match-device=interface-name:eth*;interface-name:mgmt0
keep-configuration=no
CONF
rm -f /etc/NetworkManager/dispatcher.d/01-ifupdown
# NetworkManager 1.30 (bullseye) has no keep-configuration ("unknown key", it logs): it
# assumes the addresses podman put on the interfaces into generated profiles (eth0, ...)
# and never activates the lab's (seen). This unit activates them at every boot.
if [ "$VERSION_CODENAME" = bullseye ]; then
    cat > /usr/local/sbin/lab-activate-profiles <<'SCRIPT'
#!/bin/sh
# The lab's keyfile profiles, activated where NetworkManager only assumed the interfaces.
nm-online -s -q -t 60
for file in /etc/NetworkManager/system-connections/lab-*.nmconnection; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .nmconnection)
    nmcli -g GENERAL.STATE connection show "$name" | grep -qx activated || nmcli connection up id "$name"
done
SCRIPT
    chmod 0755 /usr/local/sbin/lab-activate-profiles
    cat > /etc/systemd/system/lab-activate-profiles.service <<'UNIT'
[Unit]
Description=Activate the lab's NetworkManager profiles (NetworkManager 1.30 only assumes the interfaces)
After=NetworkManager.service
Wants=NetworkManager.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-activate-profiles

[Install]
WantedBy=multi-user.target
UNIT
    systemctl enable lab-activate-profiles.service
fi
# Units that cannot work in a container or only slow the boot down.
# (masking a unit the image does not have is harmless: it only links it to /dev/null)
for unit in systemd-networkd-wait-online.service systemd-timesyncd.service \
        apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
        getty@tty1.service console-getty.service; do
    systemctl mask "$unit"
done

# Every container gets its own machine-id at boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
