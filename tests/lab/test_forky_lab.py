"""Debian testing (forky: NetworkManager 1.58, iproute2 7.2, Python 3.14) without systemd,
beside Debian 12's NetworkManager 1.42 run the same way: the behaviours that depend on
NetworkManager's version, and the modules that need no systemd, run through Ansible.

forky's systemd 262 exits at once as PID 1 on this machine's cgroup v1 (lab.md), so each
host runs dbus-daemon and NetworkManager directly (tests/lab/no_systemd.py) in a network
namespace of its own, with a veth pair e1 (198.19.60.10/24, default route via .1) under a
keyfile profile lab-e1. The modules run through the podman connection as root; the
oracles are the hosts' own nmcli, `ip -j mptcp ...`, /proc/sys and `ip -V`.

The role runs here with mptcp_persist false (sysctl, limits, endpoints, NetworkManager
profiles: its one mptcp_host call) and is refused, before anything changes, with it true;
on 1.42 a laminar profile in the role is refused with nothing changed.
Left untested on forky, since its systemd 262 cannot run as init here: the role's
mptcp-pm.service (mptcp_systemd), the socket units' SocketProtocol=mptcp drop-ins (systemd
257+), the services' mptcpize drop-ins (nor is mptcpize in the image), mptcp-rejoin.service,
and persistence through a reboot (systemd-sysctl applying /etc/sysctl.d, the unit restoring
endpoints and limits); those run on Debian 12 and 13 (and 11). Nor SSH with become: the
hosts are reached through the podman connection as root."""

import json
import os
import re
import secrets

import pytest

import lab_session
import no_systemd
from lab_session import REPO

LAB_PREFIX = "hf-forky"
ADDRESS = "198.19.60.10"
GATEWAY = "198.19.60.1"
LAMINAR = 0x20


@pytest.fixture(scope="module")
def hosts():
    """A Lab (tests/lab/lab_session.py) of two hosts without systemd, NetworkManager running:
    forky and deb12."""
    name = "%s-%s" % (LAB_PREFIX, secrets.token_hex(3))
    lab_session._lab(name, "build", "debian12")
    images = {"forky": no_systemd.forky_image(_mirror()), "deb12": _image_name("debian12")}
    containers = dict((role, "%s-%s" % (name, role)) for role in images)
    state = os.path.join(REPO, ".lab", name)
    try:
        for role, image in images.items():
            no_systemd.start_host(name, containers[role], image)
        os.makedirs(state)
        inventory = {"all": {
            "vars": {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"},
            "hosts": dict((container, {"lab_addresses": {}}) for container in containers.values())}}
        with open(os.path.join(state, "inventory.yml"), "w") as handle:
            json.dump(inventory, handle)
        lab = lab_session.Lab(name, dict((containers[role], role) for role in containers))
        lab.role = containers
        for container in containers.values():
            no_systemd.add_link(lab, container, "e1", None)
            no_systemd.add_profile(lab, container, "lab-e1", "e1", ADDRESS + "/24", GATEWAY)
        yield lab
    finally:
        lab_session._lab(name, "down", check=False)


def _lab_py():
    import importlib.util
    spec = importlib.util.spec_from_file_location("lab_py", os.path.join(REPO, "lab", "lab.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mirror():
    return _lab_py().debian_mirror()


def _image_name(distro):
    return _lab_py().image_name(distro)


def one(lab, host, module, args, check=False):
    return lab.module(module, args, hosts=[host], check=check)[host]


def saved_flags(lab, host):
    """lab-e1's connection.mptcp-flags as nmcli prints it (`0x120`)."""
    return lab.exec(host, "nmcli", "-g", "connection.mptcp-flags", "connection", "show", "lab-e1").stdout.strip()


def endpoints(lab, host):
    """{address: (dev, flag bits)} from the host's own `ip -j mptcp endpoint show`; bits
    an older ip has no name for come as rawflags."""
    names = dict(signal=0x1, subflow=0x2, backup=0x4, fullmesh=0x8, implicit=0x10, laminar=LAMINAR)
    found = {}
    for entry in json.loads(lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout or "[]"):
        bits = sum(bit for flag, bit in names.items() if entry.get(flag) is True)
        found[entry["address"]] = (entry.get("dev"), bits | int(entry.get("rawflags", "0"), 16))
    return found


def nm_version(lab, host):
    text = lab.exec(host, "nmcli", "--version").stdout
    return tuple(int(part) for part in re.search(r"(\d+)\.(\d+)\.(\d+)", text).groups())


def test_the_hosts_are_what_this_test_is_about(hosts):
    forky, deb12 = hosts.role["forky"], hosts.role["deb12"]
    assert nm_version(hosts, forky) >= (1, 56), "laminar came in NetworkManager 1.56"
    assert nm_version(hosts, deb12)[:2] == (1, 42)
    assert "iproute2-7." in hosts.exec(forky, "ip", "-V").stdout
    for host in (forky, deb12):
        # Not systemd: podman's init, with NetworkManager under it.
        assert hosts.exec(host, "cat", "/proc/1/comm").stdout.strip() in ("catatonit", "podman-init")
        assert hosts.exec(host, "nmcli", "-t", "-f", "RUNNING", "general").stdout.strip() == "running"
        devices = hosts.exec(host, "nmcli", "-t", "-f", "DEVICE,STATE,CONNECTION", "device").stdout.split()
        assert "e1:connected:lab-e1" in devices, devices
    offline = hosts.exec(forky, "systemctl", "is-system-running", check=False)
    assert offline.returncode != 0 and offline.stdout.strip() == "offline", offline


def test_a_profile_at_zero_gets_subflow_laminar_on_forky_and_subflow_on_1_42(hosts):
    """NetworkManager 1.56 puts laminar beside subflow on a profile at 0 (its NEWS): the
    module expects that there and warns of nothing, and expects plain subflow on 1.42.
    (The module checks the endpoints only of what it applied: hence from [signal] to [].)"""
    for role, bits in (("forky", 0x2 | LAMINAR), ("deb12", 0x2)):
        host = hosts.role[role]
        one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["signal"]})
        assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x1)}
        result = one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": []})
        assert "failed" not in result and result["changed"] is True, result
        assert not result.get("warnings"), result
        assert saved_flags(hosts, host) == "0x0"
        assert endpoints(hosts, host) == {ADDRESS: ("e1", bits)}, role


def test_nm_mptcp_flags_sets_and_removes_laminar_through_networkmanager_1_56(hosts):
    host = hosts.role["forky"]
    one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["subflow"]})
    assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x2)}
    spec = {"name": "lab-e1", "flags": ["signal", "laminar"]}
    # Check mode: reported, nothing saved nor applied.
    dry = one(hosts, host, "nm_mptcp_flags", spec, check=True)
    assert dry["changed"] is True and dry["profiles"][0]["flags_after"] == ["signal", "laminar"], dry
    assert saved_flags(hosts, host) == "0x20"
    assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x2)}
    first = one(hosts, host, "nm_mptcp_flags", spec)
    assert "failed" not in first, first
    assert first["changed"] is True and not first.get("warnings"), first
    assert first["profiles"][0]["running"] == {"e1": ["signal", "laminar"]}
    assert saved_flags(hosts, host) == "0x110"
    # NetworkManager made the endpoint, flags and all: signal and laminar, not subflow.
    assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x1 | LAMINAR)}
    again = one(hosts, host, "nm_mptcp_flags", spec)
    assert again["changed"] is False, again
    # laminar off again, through NetworkManager's reapply.
    off = one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["signal"]})
    assert off["changed"] is True and not off.get("warnings"), off
    assert saved_flags(hosts, host) == "0x10"
    assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x1)}


def test_nm_mptcp_flags_refuses_laminar_on_networkmanager_1_42_before_touching_anything(hosts):
    host = hosts.role["deb12"]
    one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["subflow"]})
    before = (saved_flags(hosts, host), endpoints(hosts, host))
    refused = one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["subflow", "laminar"]})
    assert refused["failed"] is True
    assert refused["msg"] == ("profile 'lab-e1': flag 'laminar' needs NetworkManager 1.56 or later; this host's is "
                              "%s (set laminar endpoints with mptcp.linux.mptcp_endpoint instead)"
                              % ".".join(str(part) for part in nm_version(hosts, host)))
    assert (saved_flags(hosts, host), endpoints(hosts, host)) == before == ("0x20", {ADDRESS: ("e1", 0x2)})
    # What the module spares the user: 1.42's own refusal, found only once writing.
    own = hosts.exec(host, "nmcli", "connection", "modify", "lab-e1", "connection.mptcp-flags", "0x120", check=False)
    assert own.returncode != 0 and "not a valid combination" in own.stderr, own


def test_mptcp_info_reports_the_newest_tools_and_a_laminar_profile(hosts):
    host = hosts.role["forky"]
    one(hosts, host, "nm_mptcp_flags", {"name": "lab-e1", "flags": ["subflow", "laminar"]})
    info = one(hosts, host, "mptcp_info", {"gather_subset": ["tools", "nm", "endpoints"], "facts": False})
    assert "failed" not in info, info
    facts = info["mptcp"]
    assert facts.get("unavailable", {}) == {}, facts
    ip_v = hosts.exec(host, "ip", "-V").stdout
    assert facts["tools"]["iproute2"]["version"] == re.search(r"iproute2-([\d.]+)", ip_v).group(1)
    assert facts["tools"]["iproute2"]["ip_mptcp"] is True
    assert facts["tools"]["nmcli"]["version"] == ".".join(str(part) for part in nm_version(hosts, host))
    pyroute2 = hosts.exec(host, "python3", "-c", "import pyroute2; print(pyroute2.__version__)").stdout.strip()
    assert facts["tools"]["pyroute2"] == pyroute2
    # The profile as nmcli holds it (0x120: subflow, laminar), and the kernel's endpoint.
    assert saved_flags(hosts, host) == "0x120"
    profile = [entry for entry in facts["nm_profiles"] if entry["name"] == "lab-e1"]
    assert [entry["mptcp_flags"] for entry in profile] == [["subflow", "laminar"]], facts["nm_profiles"]
    assert endpoints(hosts, host) == {ADDRESS: ("e1", 0x2 | LAMINAR)}
    assert [(e["address"], e["flags"]) for e in facts["endpoints"]] == [(ADDRESS, ["subflow", "laminar"])]


def test_sysctl_and_limits_through_ansible_without_systemd(hosts):
    host = hosts.role["forky"]
    spec = {"settings": {"net.mptcp.add_addr_timeout": 61}, "path": "/etc/sysctl.d/90-mptcp.conf"}
    first = one(hosts, host, "mptcp_sysctl", spec)
    assert "failed" not in first and first["changed"] is True, first
    assert hosts.exec(host, "cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "61"
    assert "net.mptcp.add_addr_timeout = 61" in hosts.exec(host, "cat", "/etc/sysctl.d/90-mptcp.conf").stdout
    assert one(hosts, host, "mptcp_sysctl", spec)["changed"] is False
    limits = {"subflows": 3, "add_addr_accepted": 2}
    first = one(hosts, host, "mptcp_limits", limits)
    assert "failed" not in first and first["changed"] is True, first
    # `ip mptcp limits show` prints words even with -j: `add_addr_accepted 2 subflows 3`.
    words = hosts.exec(host, "ip", "mptcp", "limits", "show").stdout.split()
    shown = dict(zip(words[0::2], words[1::2]))
    assert (shown["subflows"], shown["add_addr_accepted"]) == ("3", "2"), shown
    assert one(hosts, host, "mptcp_limits", limits)["changed"] is False


ROLE_PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: mptcp.linux.mptcp
      vars:
        mptcp_persist: %(persist)s
        mptcp_install_packages: false
        mptcp_sysctl: {enabled: 1, add_addr_timeout: 62}
        mptcp_limits: {subflows: 4, add_addr_accepted: 1}
        mptcp_endpoints:
          - {address: 198.19.61.10, id: 10, dev: e2, flags: [subflow, laminar]}
        mptcp_nm_profiles:
          - {name: lab-e1, flags: [signal, laminar]}
"""


def host_state(lab, host):
    """What the role sets, as the host's own tools show it."""
    unit = lab.exec(host, "test", "-e", "/etc/systemd/system/mptcp-pm.service", check=False).returncode == 0
    return (lab.exec(host, "cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip(),
            lab.exec(host, "ip", "mptcp", "limits", "show").stdout.split(), saved_flags(lab, host),
            endpoints(lab, host), unit)


def test_the_role_without_its_boot_unit_on_forky_and_refused_with_it(hosts, tmp_path):
    """The role (one mptcp_host call) with mptcp_persist false sets sysctl, limits, an ip
    laminar endpoint and a NetworkManager laminar profile on forky; with mptcp_persist true
    it is refused before anything changes, since no systemd runs to load its unit."""
    host = hosts.role["forky"]
    if hosts.exec(host, "ip", "link", "show", "e2", check=False).returncode != 0:
        no_systemd.add_link(hosts, host, "e2", "198.19.61.10/24")
    one(hosts, host, "mptcp_endpoint", {"address": "198.19.61.10", "state": "absent"})
    play = tmp_path / "role.yml"
    play.write_text(ROLE_PLAY % dict(persist="true"))
    before = host_state(hosts, host)
    refused = hosts.playbook(str(play), "--limit", host)
    assert refused.returncode != 0
    out = " ".join((refused.stdout + refused.stderr).split())
    assert ("%s does not run systemd as its init (systemctl is-system-running: offline), and mptcp_persist "
            "(the boot unit mptcp-pm.service) need it" % host) in out, out
    assert host_state(hosts, host) == before and before[4] is False
    play.write_text(ROLE_PLAY % dict(persist="false"))
    done = hosts.playbook(str(play), "--limit", host)
    assert done.returncode == 0 and "changed=1" in done.stdout, done.stdout + done.stderr
    assert host_state(hosts, host) == ("62", ["add_addr_accepted", "1", "subflows", "4"], "0x110", {
        ADDRESS: ("e1", 0x1 | LAMINAR), "198.19.61.10": ("e2", 0x2 | LAMINAR)}, False)
    again = hosts.playbook(str(play), "--limit", host)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout


def test_the_role_refuses_a_laminar_profile_on_networkmanager_1_42_changing_nothing(hosts, tmp_path):
    host = hosts.role["deb12"]
    if hosts.exec(host, "ip", "link", "show", "e2", check=False).returncode != 0:
        no_systemd.add_link(hosts, host, "e2", "198.19.61.10/24")
    play = tmp_path / "role.yml"
    play.write_text(ROLE_PLAY % dict(persist="false"))
    before = host_state(hosts, host)
    refused = hosts.playbook(str(play), "--limit", host)
    assert refused.returncode != 0
    # The output callback quotes the message in YAML: '' is one quote.
    out = " ".join((refused.stdout + refused.stderr).split()).replace("''", "'")
    assert ("networkmanager: profile 'lab-e1': flag 'laminar' needs NetworkManager 1.56 or later; this host's is "
            "%s (set laminar endpoints with mptcp.linux.mptcp_endpoint instead). Nothing had been changed."
            % ".".join(str(part) for part in nm_version(hosts, host))) in out, out
    assert host_state(hosts, host) == before
