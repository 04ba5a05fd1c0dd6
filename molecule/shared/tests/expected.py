"""What the role must have set on a lab host of the shared scenario vars
(lab/mptcp-vars.yml), read back with the system's own tools."""

import json
import os
import subprocess

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONVERGE = os.path.join(PROJECT, "molecule", "shared", "converge.yml")

PRELOAD = "libmptcpwrap.so"


def is_server(host):
    return host.backend.get_hostname().endswith("deb12")


def address(host, iface):
    data = json.loads(host.check_output("ip -j -4 address show dev %s" % iface))
    return data[0]["addr_info"][0]["local"]


FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar", "implicit")


def endpoints(host):
    """`ip -j mptcp endpoint show`, flags as a list whichever way iproute2 prints them
    (6.1: `"signal": true`; newer: `"flags": ["signal"]`)."""
    out = host.check_output("ip -j mptcp endpoint show").strip()
    if out.startswith("[") and out.endswith("}"):
        out = out[:-1] + "]"  # iproute2 5.9 (Debian 11) closes the list with a brace
    found = json.loads(out or "[]")
    for endpoint in found:
        endpoint["flags"] = sorted(set(endpoint.get("flags", []))
                                   | {flag for flag in FLAGS if endpoint.pop(flag, False)})
    return found


def limits(host):
    words = host.check_output("ip mptcp limits show").split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def sysctl(host, key):
    return host.file("/proc/sys/net/mptcp/%s" % key).content_string.strip()


def nm_has_mptcp_flags(host):
    """NetworkManager 1.40 and later have connection.mptcp-flags (Debian 11's 1.30 has not)."""
    version = tuple(int(part) for part in host.check_output("NetworkManager --version").split(".")[:2])
    return version >= (1, 40)


def nm_flags(host, profile):
    """The profile's connection.mptcp-flags; None where NetworkManager has no such property."""
    if not nm_has_mptcp_flags(host):
        return None
    return host.check_output("nmcli -g connection.mptcp-flags connection show %s" % profile)


# What the role sets on a lab host (lab/mptcp-vars.yml with molecule/shared/vars/main.yml),
# each value one the host does not have without the role: prepare.yml turns MPTCP off
# now and at boot, the limits are not the kernel's defaults (subflows 2,
# add_addr_accepted 0), add_addr_timeout is not the kernel's 120.
KERNEL_LIMITS = {"add_addr_accepted": 0, "subflows": 2}
KERNEL_ADD_ADDR_TIMEOUT = "120"


def role_limits(host):
    return {"add_addr_accepted": 2, "subflows": 3} if is_server(host) else {"add_addr_accepted": 1, "subflows": 4}


def settings_lines(host, path="/etc/sysctl.d/90-mptcp.conf"):
    """The lines of a sysctl file that set something (comments and blank lines left out)."""
    return [line for line in host.file(path).content_string.splitlines()
            if line.strip() and not line.startswith(("#", ";"))]


def endpoint_set(host):
    """The endpoints as (address, dev, flags) without their ids, which the kernel picks."""
    return sorted((e.get("address"), e.get("dev"), tuple(e["flags"])) for e in endpoints(host))


def mptcp_listeners(host):
    """The local address:port of every MPTCP listening socket (`ss -HlnM`)."""
    return sorted(line.split()[3] for line in host.check_output("ss -HlnM").splitlines() if line.strip())


def library(host):
    """The mptcpize library the image ships (dpkg's file list, not the role's finding)."""
    found = [path for path in host.check_output("dpkg -L libmptcpwrap0").splitlines()
             if os.path.basename(path).startswith(PRELOAD) and not host.file(path).is_symlink]
    assert len(found) == 1, found
    return found[0]


def assert_set_up(host):
    """Everything the role sets, as the kernel, systemd and NetworkManager report it."""
    server = is_server(host)
    assert sysctl(host, "enabled") == "1", sysctl(host, "enabled")
    assert sysctl(host, "add_addr_timeout") == "60", sysctl(host, "add_addr_timeout")
    conf = host.file("/etc/sysctl.d/90-mptcp.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert settings_lines(host) == ["net.mptcp.add_addr_timeout = 60", "net.mptcp.enabled = 1"], \
        settings_lines(host)
    assert limits(host) == role_limits(host), limits(host)
    role_endpoint = (address(host, "eth1"), "eth1", ("signal",) if server else ("subflow",))
    if not nm_has_mptcp_flags(host):
        # Debian 11: no profiles in the variables, and NetworkManager 1.30 makes no endpoints.
        assert endpoint_set(host) == [role_endpoint], endpoint_set(host)
    else:
        # The role's endpoint on eth1, and NetworkManager's on eth0 (lab-eth0 has
        # enabled,subflow; NetworkManager adds it only with net.mptcp.enabled = 1).
        assert endpoint_set(host) == [(address(host, "eth0"), "eth0", ("subflow",)), role_endpoint], endpoint_set(host)
        # NetworkManager: 0x22 is enabled,subflow; 0x1 disabled (its default is 0x0).
        assert nm_flags(host, "lab-eth0") == "0x22", nm_flags(host, "lab-eth0")
        assert nm_flags(host, "lab-eth1") == "0x1", nm_flags(host, "lab-eth1")
    unit = host.service("mptcp-pm.service")
    assert unit.is_enabled
    assert host.file("/etc/systemd/system/mptcp-pm.service").mode == 0o644
    dropin = host.file("/etc/systemd/system/iperf3.service.d/50-mptcp.conf")
    if server:
        assert dropin.exists and dropin.user == "root" and dropin.mode == 0o644
        preload = 'Environment="LD_PRELOAD=%s"' % library(host)
        assert [line for line in settings_lines(host, dropin.path) if line.startswith("Environment=")] == [preload]
        assert host.service("iperf3").is_running
        assert host.check_output("systemctl show -p Environment --value iperf3") == "LD_PRELOAD=" + library(host)
        # The proof that the preload works in the running service (restarted after the
        # drop-in was written): iperf3's listener is an MPTCP socket, and the only one.
        assert mptcp_listeners(host) == ["*:5201"], mptcp_listeners(host)
    else:
        assert not dropin.exists
        assert mptcp_listeners(host) == [], mptcp_listeners(host)


def assert_undone(host):
    """What mptcp_state: absent leaves, at once and after a reboot alike: MPTCP off now
    and in the role's file, the role's endpoints gone, NetworkManager's flags back at its
    default, no unit, no drop-in, and iperf3 running again as the plain TCP service it
    was (restarted without the preload)."""
    assert sysctl(host, "enabled") == "0", sysctl(host, "enabled")
    assert settings_lines(host) == ["net.mptcp.enabled = 0"], settings_lines(host)
    # NetworkManager removes its own endpoint with the flags reset and MPTCP off.
    assert endpoints(host) == [], endpoints(host)
    assert nm_flags(host, "lab-eth0") == "0x0", nm_flags(host, "lab-eth0")
    assert nm_flags(host, "lab-eth1") == "0x0", nm_flags(host, "lab-eth1")
    assert not host.file("/etc/systemd/system/mptcp-pm.service").exists
    assert host.run("systemctl cat mptcp-pm.service").rc != 0
    assert not host.file("/etc/systemd/system/iperf3.service.d/50-mptcp.conf").exists
    assert mptcp_listeners(host) == [], mptcp_listeners(host)
    if is_server(host):
        assert host.service("iperf3").is_running
        assert host.check_output("systemctl show -p Environment --value iperf3") == ""
        tcp = [line.split()[3] for line in host.check_output("ss -Hltn").splitlines() if line.strip()]
        assert "*:5201" in tcp, tcp


def run_converge(host, lab, *args):
    """The scenarios' converge playbook on this host only, with more ansible-playbook
    arguments; returns the host's stats (changed, failures, ...)."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    name = host.backend.get_hostname()
    run = subprocess.run(
        [os.path.join(PROJECT, ".venv", "bin", "ansible-playbook"),
         "-i", os.path.join(PROJECT, ".lab", lab, "inventory.yml"), "--limit", name]
        + list(args) + [CONVERGE],
        capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)["stats"][name]
