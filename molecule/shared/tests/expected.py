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
    found = json.loads(host.check_output("ip -j mptcp endpoint show") or "[]")
    for endpoint in found:
        endpoint["flags"] = sorted(set(endpoint.get("flags", []))
                                   | {flag for flag in FLAGS if endpoint.pop(flag, False)})
    return found


def limits(host):
    words = host.check_output("ip mptcp limits show").split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def sysctl(host, key):
    return host.file("/proc/sys/net/mptcp/%s" % key).content_string.strip()


def nm_flags(host, profile):
    return host.check_output("nmcli -g connection.mptcp-flags connection show %s" % profile)


def assert_set_up(host):
    """Everything the role sets, as the kernel, systemd and NetworkManager report it."""
    server = is_server(host)
    assert sysctl(host, "enabled") == "1"
    assert sysctl(host, "add_addr_timeout") == "60"
    conf = host.file("/etc/sysctl.d/90-mptcp.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert "net.mptcp.add_addr_timeout = 60" in conf.content_string
    assert "net.mptcp.enabled = 1" in conf.content_string
    assert limits(host) == {"add_addr_accepted": 0 if server else 1, "subflows": 2}
    ours = [e for e in endpoints(host) if e.get("address") == address(host, "eth1")]
    assert len(ours) == 1, endpoints(host)
    assert ours[0]["dev"] == "eth1"
    assert ("signal" if server else "subflow") in ours[0]["flags"]
    # NetworkManager: 0x22 is enabled,subflow; 0x1 disabled.
    assert nm_flags(host, "lab-eth0") in ("0x22", "34")
    assert nm_flags(host, "lab-eth1") in ("0x1", "1")
    unit = host.service("mptcp-pm.service")
    assert unit.is_enabled
    assert host.file("/etc/systemd/system/mptcp-pm.service").mode == 0o644
    dropin = host.file("/etc/systemd/system/iperf3.service.d/50-mptcp.conf")
    if server:
        assert dropin.exists and dropin.user == "root" and dropin.mode == 0o644
        assert PRELOAD in dropin.content_string
        assert host.service("iperf3").is_running
        assert PRELOAD in host.check_output("systemctl show -p Environment --value iperf3")
        # The proof that the preload works: iperf3's listener is an MPTCP socket.
        assert ":5201" in host.check_output("ss -HlnM")
    else:
        assert not dropin.exists


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
