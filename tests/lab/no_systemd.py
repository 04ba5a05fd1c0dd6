"""Lab hosts without systemd: Debian testing (forky) with NetworkManager, dbus, iproute2 and
Python, and any lab image run the same way, for the behaviours that depend on the newest
tools' versions.

forky's systemd 262 exits at once as PID 1 on this machine's cgroup v1
(/work/shared/docs/lab.md), so its hosts run lab/no-systemd/init.sh under podman's --init
(catatonit as PID 1): the system bus, then NetworkManager in the foreground. The image is
built from Debian's archive once (debootstrap's sid script, lab/no-systemd/image-setup.sh
in a chroot) and reused by the hash of its recipe, as lab.py's images are. A host is a
container with a network namespace of its own (`--network none`): a test gives it veth
pairs (add_link) and NetworkManager keyfile profiles (add_profile)."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import lab_session

REPO = lab_session.REPO
SETUP = os.path.join(REPO, "lab", "no-systemd", "image-setup.sh")
INIT = os.path.join(REPO, "lab", "no-systemd", "init.sh")
FORKY_DEBOOTSTRAP = ["debootstrap", "--variant=minbase", "forky"]
# Debian testing needs the sid script (lab.md).
FORKY_SCRIPT = "/usr/share/debootstrap/scripts/sid"
NM_TIMEOUT = 60


def _podman(*argv, **kwargs):
    result = subprocess.run(["podman"] + list(argv), capture_output=True, env=lab_session._env(), check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError("podman %s failed: %s" % (" ".join(argv[:3]), result.stderr))
    return result


def forky_image_name():
    recipe = hashlib.sha256(json.dumps(FORKY_DEBOOTSTRAP + [FORKY_SCRIPT]).encode())
    with open(SETUP, "rb") as handle:
        recipe.update(handle.read())
    return "localhost/mptcp-lab-debian-testing:%s" % recipe.hexdigest()[:12]


def _unmount_below(root):
    with open("/proc/mounts") as handle:
        mounts = [line.split()[1] for line in handle]
    for mount in sorted((m for m in mounts if m.startswith(root + "/")), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)


def forky_image(mirror):
    """The image's name, built first if it is not there (about a minute here)."""
    name = forky_image_name()
    if subprocess.run(["podman", "image", "exists", name], env=lab_session._env(), check=False).returncode == 0:
        return name
    root = tempfile.mkdtemp(prefix="mptcp-forky-")
    try:
        subprocess.run(FORKY_DEBOOTSTRAP + [root, mirror, FORKY_SCRIPT], check=True, capture_output=True)
        shutil.copy(SETUP, os.path.join(root, "tmp", "image-setup.sh"))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
        try:
            for argv in (["mount", "-t", "proc", "proc", root + "/proc"], ["mount", "--bind", "/dev", root + "/dev"],
                         ["mount", "-t", "sysfs", "sysfs", root + "/sys"]):
                subprocess.run(argv, check=True, capture_output=True)
            subprocess.run(["chroot", root, "/bin/sh", "/tmp/image-setup.sh"], check=True, capture_output=True)
        finally:
            _unmount_below(root)
        os.unlink(os.path.join(root, "tmp", "image-setup.sh"))
        os.unlink(os.path.join(root, "etc", "resolv.conf"))
        tar = subprocess.Popen(["tar", "-C", root, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        _podman("import", "-", name, stdin=tar.stdout)
        assert tar.wait() == 0
    finally:
        _unmount_below(root)
        shutil.rmtree(root)
    return name


def start_host(lab, container, image, network_manager=True):
    """Run `image` as `container` of `lab` (its label: `lab.py --name LAB down` removes it),
    in a network namespace of its own, with /proc/sys writable (as lab.py's hosts), and,
    with `network_manager`, dbus and NetworkManager started by init.sh, waited for."""
    command = ["/bin/sh", "/lab-init"] if network_manager else ["sleep", "infinity"]
    _podman("run", "-d", "--init", "--name", container, "--label", "mptcp-lab=%s" % lab, "--network", "none",
            "--cap-add", "NET_ADMIN", "--security-opt", "unmask=/proc/sys",
            "--volume", "%s:/lab-init:ro" % INIT, image, *command)
    if network_manager:
        deadline = time.monotonic() + NM_TIMEOUT
        while True:
            state = subprocess.run(["podman", "exec", container, "nmcli", "-t", "-f", "RUNNING", "general"],
                                   capture_output=True, text=True, env=lab_session._env(), check=False)
            if state.returncode == 0 and state.stdout.strip() == "running":
                break
            if time.monotonic() > deadline:
                logs = _podman("logs", container).stderr
                raise RuntimeError("NetworkManager did not start in %s: %s %s" % (container, state.stderr, logs[-2000:]))
            time.sleep(0.5)


def add_link(lab, host, name, address):
    """A veth pair: `name` with `address` (CIDR) for the test, its far end peerN up."""
    peer = "peer" + name[-1]
    lab.exec(host, "ip", "link", "add", name, "type", "veth", "peer", "name", peer)
    lab.exec(host, "ip", "link", "set", peer, "up")
    if address:
        lab.exec(host, "ip", "address", "add", address, "dev", name)
    lab.exec(host, "ip", "link", "set", name, "up")


def add_profile(lab, host, profile, device, address, gateway):
    """A NetworkManager keyfile profile for `device` (static IPv4 with a default route via
    `gateway`, no IPv6), loaded and brought up; mptcp-flags left at NetworkManager's 0."""
    text = "\n".join([
        "[connection]", "id=%s" % profile, "type=ethernet", "interface-name=%s" % device, "",
        "[ipv4]", "method=manual", "address1=%s,%s" % (address, gateway), "",
        "[ipv6]", "method=disabled", ""])
    path = "/etc/NetworkManager/system-connections/%s.nmconnection" % profile
    with tempfile.NamedTemporaryFile("w", suffix=".nmconnection") as handle:
        handle.write(text)
        handle.flush()
        _podman("cp", handle.name, "%s:%s" % (host, path))
    lab.exec(host, "chmod", "0600", path)
    lab.exec(host, "nmcli", "connection", "reload")
    lab.exec(host, "nmcli", "connection", "up", profile)
