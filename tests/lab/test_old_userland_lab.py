"""What depends on the host's versions, on a lab of one Debian 11, one Debian 12 and one
Debian 13 host: each behaviour on the release that lacks what it needs and on those that
have it, judged with the hosts' own tools (and this machine's newer `ip` inside a host's
network namespace, where Debian 11's cannot show a flag).

| | Debian 11 | Debian 12 | Debian 13 |
|---|---|---|---|
| iproute2 | 5.9: no `endpoint change`, no fullmesh, `-j` endpoint list closed with `}` | 6.1 | 6.15 |
| NetworkManager | 1.30: no connection.mptcp-flags | 1.42 | 1.52 |
| mptcpize | none packaged | 0.12 | 0.13 |
| python3-pyroute2 | 0.5.14: no MPTCP | 0.7.2 | 0.7.7 |
| systemd, python3 | 247, 3.9 | 252, 3.11 | 257, 3.13 |

The tests run in this file's order on one lab; each leaves the hosts as it found them."""

import importlib.util
import json
import os
import subprocess

import pytest
import yaml

import pyroute2

from ansible_output import failed_cleanly
from bad_input_table import LAB_STATE, SNAPSHOT
from lab_session import ALL_DISTROS, CONTAINERS_CONF

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_PREFIX = "hd-old"
LAB_SUBNETS = ["198.19.33.0/24", "198.19.34.0/24", "198.19.35.0/24"]
LAB_DISTROS = ALL_DISTROS
ENDPOINT_ID = 7
NM_TOO_OLD = "NetworkManager (the daemon) is 1.30.6; connection.mptcp-flags needs NetworkManager 1.40 or later"
# Where Debian 11's python3 finds packages installed by hand (before its own dist-packages).
LOCAL_SITE = "/usr/local/lib/python3.9/dist-packages"
# The role's variables for a host without NetworkManager profiles and services: values the
# kernel does not have by itself (limits 2/0, add_addr_timeout 120).
ROLE_VARS = {
    "mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 60},
    "mptcp_limits": {"subflows": 3, "add_addr_accepted": 2},
    "mptcp_endpoints": [{"address": "{{ lab_addresses.eth1 }}", "dev": "eth1", "flags": ["subflow", "backup"]}],
    "mptcp_nm_profiles": [],
    "mptcp_mptcpize_services": [],
}

# lab.py's wait_for_boot, after a restart.
_spec = importlib.util.spec_from_file_location("lab_tool", os.path.join(REPO, "lab", "lab.py"))
lab_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_tool)


@pytest.fixture(scope="module")
def lab(own_lab):
    return own_lab


def host_of(lab, distro):
    return next(host for host, found in lab.hosts.items() if found == distro)


def kernel_endpoints(lab, host, address=None):
    """The host's endpoints (of `address`, where given: NetworkManager 1.42 and 1.52 keep
    one of their own on eth0) as this machine's iproute2 (6.1, which knows fullmesh) reads
    them in the host's network namespace: [(address, id, dev, sorted flags)]."""
    pid = subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}", host], capture_output=True, text=True,
                         check=True, env=dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)).stdout.strip()
    out = subprocess.run(["nsenter", "-t", pid, "-n", "ip", "-j", "mptcp", "endpoint", "show"],
                         capture_output=True, text=True, check=True).stdout
    flags = ("signal", "subflow", "backup", "fullmesh")
    return sorted((entry["address"], entry["id"], entry.get("dev"), sorted(f for f in flags if entry.get(f)))
                  for entry in json.loads(out or "[]") if address in (None, entry["address"]))


def state(lab, host):
    return json.loads(lab.exec(host, "python3", "-c", SNAPSHOT, json.dumps(LAB_STATE)).stdout)


def endpoint_args(lab, host, flags):
    return {"address": lab.address(host, "eth1"), "dev": "eth1", "id": ENDPOINT_ID, "flags": flags}


def endpoint_run(lab, flags):
    """mptcp_endpoint on every host, each with its own eth1 address -> {host: result}."""
    results = {}
    for host in lab.hosts:
        results.update(lab.module("mptcp_endpoint", endpoint_args(lab, host, flags), hosts=[host]))
    return results


def role_playbook(tmp_path, variables):
    path = tmp_path / "role.yml"
    path.write_text(yaml.safe_dump([{"name": "the role", "hosts": "all", "gather_facts": False,
                                     "roles": [{"role": "mptcp.linux.mptcp", "vars": variables}]}]))
    return str(path)


def role_run(lab, tmp_path, variables, host):
    """The role on one host -> (its stats, the failed task's result or None)."""
    report = lab.json_playbook(role_playbook(tmp_path, variables), "--limit", host)
    failed = [task["hosts"][host] for play in report["plays"] for task in play["tasks"]
              if task["hosts"].get(host, {}).get("failed")]
    return report["stats"][host], (failed[0] if failed else None)


def test_the_hosts_have_the_versions_these_tests_are_about(lab):
    old = host_of(lab, "debian11")
    assert "iproute2-5.9" in lab.exec(old, "ip", "-V").stdout
    usage = lab.exec(old, "ip", "mptcp", "help", check=False).stderr
    assert "ip mptcp endpoint add" in usage and "endpoint change" not in usage and "fullmesh" not in usage
    assert lab.exec(old, "NetworkManager", "--version").stdout.startswith("1.30.")
    assert lab.exec(old, "systemctl", "--version").stdout.startswith("systemd 247 ")
    assert lab.exec(old, "python3", "--version").stdout.startswith("Python 3.9.")
    assert lab.exec(old, "dpkg", "-s", "mptcpize", check=False).returncode != 0
    assert lab.exec(old, "python3", "-c", "import pyroute2.netlink.generic.mptcp", check=False).returncode != 0
    for distro in ("debian12", "debian13"):
        host = host_of(lab, distro)
        usage = lab.exec(host, "ip", "mptcp", "help", check=False).stderr
        assert "endpoint change" in usage and "fullmesh" in usage, (host, usage)
        version = tuple(int(part) for part in lab.exec(host, "NetworkManager", "--version").stdout.split(".")[:2])
        assert version >= (1, 40), (host, version)
        assert lab.exec(host, "dpkg", "-s", "mptcpize").returncode == 0


def test_mptcp_info_reads_debian_11_and_says_what_it_cannot(lab):
    """On Python 3.9: the endpoints iproute2 5.9 lists (its broken JSON mended), the tools
    as they are (no pyroute2 with MPTCP, no mptcpize), and why there are no profiles."""
    old = host_of(lab, "debian11")
    address = lab.address(old, "eth1")
    lab.exec(old, "ip", "mptcp", "endpoint", "add", address, "dev", "eth1", "id", str(ENDPOINT_ID), "subflow", "backup")
    try:
        result = lab.module("mptcp_info", {"gather_subset": ["endpoints", "tools", "nm"], "facts": False},
                            hosts=[old], diff=False)[old]
        assert not result.get("failed"), result
        info = result["mptcp"]
        assert [(e["address"], e["id"], e["dev"], sorted(e["flags"])) for e in info["endpoints"]] == \
            kernel_endpoints(lab, old)
        assert info["tools"]["iproute2"]["ip_mptcp"] is True
        assert info["tools"]["pyroute2"] is None and info["tools"]["mptcpize"] is None, info["tools"]
        assert info["tools"]["nmcli"]["version"].startswith("1.30."), info["tools"]
        assert info["unavailable"] == {"nm_profiles": NM_TOO_OLD}, info["unavailable"]
    finally:
        lab.exec(old, "ip", "mptcp", "endpoint", "delete", "id", str(ENDPOINT_ID))


def test_nm_mptcp_flags_is_refused_on_networkmanager_1_30_and_sets_the_flags_on_1_42_and_1_52(lab):
    old = host_of(lab, "debian11")
    keyfile = "/etc/NetworkManager/system-connections/lab-eth1.nmconnection"
    before = lab.exec(old, "cat", keyfile).stdout
    results = lab.module("nm_mptcp_flags", {"name": "lab-eth1", "flags": ["disabled"]})
    try:
        assert results[old].get("failed") and failed_cleanly(results[old]), results[old]
        assert results[old]["msg"] == NM_TOO_OLD
        assert lab.exec(old, "cat", keyfile).stdout == before
        assert lab.exec(old, "nmcli", "-g", "GENERAL.STATE", "connection", "show", "lab-eth1").stdout.strip() == "activated"
        for distro in ("debian12", "debian13"):
            host = host_of(lab, distro)
            assert results[host]["changed"] and not results[host].get("failed"), results[host]
            assert lab.exec(host, "nmcli", "-g", "connection.mptcp-flags", "connection", "show",
                            "lab-eth1").stdout.strip() == "0x1"
    finally:
        for distro in ("debian12", "debian13"):
            lab.exec(host_of(lab, distro), "nmcli", "connection", "modify", "lab-eth1", "connection.mptcp-flags", "0")


def test_the_role_with_profiles_stops_on_networkmanager_1_30_before_anything_changes(lab, tmp_path):
    old = host_of(lab, "debian11")
    before = state(lab, old)
    variables = dict(ROLE_VARS, mptcp_nm_profiles=[{"name": "lab-eth0", "flags": ["enabled", "subflow"]}])
    stats, failed = role_run(lab, tmp_path, variables, old)
    assert stats["failures"] == 1 and failed_cleanly(failed), failed
    assert "mptcp_nm_profiles lists lab-eth0, but %s cannot tell its profiles: %s" % (old, NM_TOO_OLD) in failed["msg"]
    assert state(lab, old) == before


@pytest.mark.parametrize("install", [True, False])
def test_mptcpize_services_are_refused_on_debian_11_which_ships_no_mptcpize(lab, tmp_path, install):
    old = host_of(lab, "debian11")
    before = state(lab, old)
    variables = dict(ROLE_VARS, mptcp_mptcpize_services=["iperf3"], mptcp_install_packages=install)
    stats, failed = role_run(lab, tmp_path, variables, old)
    assert stats["failures"] == 1 and failed_cleanly(failed), failed
    if install:
        # Not apt's "Unable to locate package": the role knows Debian 11 has none.
        assert "mptcp_mptcpize_services lists iperf3.service, but Debian 11" in failed["msg"], failed["msg"]
        assert "ships no mptcpize library" in failed["msg"], failed["msg"]
    else:
        assert "mptcp_mptcpize_services lists iperf3.service, but %s has no mptcpize library" % old in failed["msg"]
        assert "Debian 11 and RHEL 8 ship none" in failed["msg"], failed["msg"]
    assert state(lab, old) == before


def test_a_flag_change_is_in_place_where_ip_has_endpoint_change_else_a_delete_and_add(lab):
    old = host_of(lab, "debian11")
    try:
        endpoint_run(lab, ["subflow"])
        results = endpoint_run(lab, ["subflow", "backup"])
        for host in lab.hosts:
            assert results[host]["changed"] and results[host]["backend"] == "iproute2", results[host]
            assert kernel_endpoints(lab, host, lab.address(host, "eth1")) == [(lab.address(host, "eth1"), ENDPOINT_ID, "eth1", ["backup", "subflow"])]
        assert [line.split(" ", 1)[0] for line in results[old]["changes"]] == ["delete", "add"], results[old]
        assert any("is deleted and added again" in warning for warning in results[old]["warnings"]), results[old]
        for distro in ("debian12", "debian13"):
            host = host_of(lab, distro)
            assert len(results[host]["changes"]) == 1 and " in place: " in results[host]["changes"][0], results[host]
            assert not results[host].get("warnings"), results[host]
        again = endpoint_run(lab, ["subflow", "backup"])
        assert not any(result["changed"] for result in again.values()), again
    finally:
        lab.exec_all("ip", "mptcp", "endpoint", "delete", "id", str(ENDPOINT_ID))


def test_fullmesh_is_refused_by_iproute2_5_9_without_pyroute2_and_set_on_6_1_and_6_15(lab):
    old = host_of(lab, "debian11")
    try:
        endpoint_run(lab, ["subflow"])
        results = endpoint_run(lab, ["subflow", "fullmesh"])
        assert results[old].get("failed") and failed_cleanly(results[old]), results[old]
        assert "needs flag fullmesh, which this iproute2 (ip utility, iproute2-5.9.0" in results[old]["msg"]
        assert kernel_endpoints(lab, old, lab.address(old, "eth1")) == [(lab.address(old, "eth1"), ENDPOINT_ID, "eth1", ["subflow"])]
        for distro in ("debian12", "debian13"):
            host = host_of(lab, distro)
            assert results[host]["changed"] and results[host]["backend"] == "iproute2", results[host]
            assert kernel_endpoints(lab, host, lab.address(host, "eth1")) == [(lab.address(host, "eth1"), ENDPOINT_ID, "eth1", ["fullmesh", "subflow"])]
    finally:
        lab.exec_all("ip", "mptcp", "endpoint", "delete", "id", str(ENDPOINT_ID))


def test_pyroute2_on_debian_11_sets_fullmesh_and_changes_flags_in_place_where_ip_cannot(lab):
    """With a pyroute2 that has MPTCP (PyPI's, as this machine's venv has it, copied onto
    the host), backend auto hands Debian 11's missing features to it, on Python 3.9."""
    old = host_of(lab, "debian11")
    source = os.path.dirname(pyroute2.__file__)
    address = lab.address(old, "eth1")
    try:
        lab.exec(old, "mkdir", "-p", LOCAL_SITE)
        subprocess.run(["podman", "cp", source, "%s:%s/" % (old, LOCAL_SITE)], check=True, capture_output=True,
                       env=dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF))
        lab.module("mptcp_endpoint", endpoint_args(lab, old, ["subflow"]), hosts=[old])
        fullmesh = lab.module("mptcp_endpoint", endpoint_args(lab, old, ["subflow", "fullmesh"]), hosts=[old])[old]
        assert fullmesh["changed"] and fullmesh["backend"] == "pyroute2", fullmesh
        assert [line.split(" ", 1)[0] for line in fullmesh["changes"]] == ["change"], fullmesh
        assert kernel_endpoints(lab, old) == [(address, ENDPOINT_ID, "eth1", ["fullmesh", "subflow"])]
        backup = lab.module("mptcp_endpoint", endpoint_args(lab, old, ["subflow", "backup"]), hosts=[old])[old]
        assert backup["changed"] and backup["backend"] == "pyroute2", backup
        assert [line.split(" ", 1)[0] for line in backup["changes"]] == ["change"], backup
        assert kernel_endpoints(lab, old) == [(address, ENDPOINT_ID, "eth1", ["backup", "subflow"])]
    finally:
        lab.exec(old, "rm", "-rf", os.path.join(LOCAL_SITE, "pyroute2"))
        lab.exec(old, "ip", "mptcp", "endpoint", "delete", "id", str(ENDPOINT_ID), check=False)


def test_the_role_converges_on_debian_11_and_its_boot_unit_on_systemd_247_brings_it_back(lab, tmp_path):
    """The role on Python 3.9, iproute2 5.9 and systemd 247: set, idempotent, and back
    after a reboot (systemd-sysctl and mptcp-pm.service)."""
    old = host_of(lab, "debian11")
    address = lab.address(old, "eth1")

    def judged():
        """What the role sets, read from the host; endpoints without their ids, which the
        kernel picks (the role gives none), and so may differ after a reboot."""
        found = state(lab, old)
        return (found["sysctl"]["add_addr_timeout"], found["sysctl"]["enabled"], found["limits"][1].split(),
                [(e[0], e[2], e[3]) for e in kernel_endpoints(lab, old)], found["units"])

    want = ("60\n", "1\n", ["add_addr_accepted", "2", "subflows", "3"],
            [(address, "eth1", ["backup", "subflow"])], {"mptcp-pm.service": "enabled"})
    try:
        stats, failed = role_run(lab, tmp_path, ROLE_VARS, old)
        assert failed is None and stats["changed"] > 0, (stats, failed)
        assert judged() == want
        stats, failed = role_run(lab, tmp_path, ROLE_VARS, old)
        assert failed is None and stats["changed"] == 0, (stats, failed)
        subprocess.run(["podman", "restart", "-t", "5", old], check=True, capture_output=True,
                       env=dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF))
        lab_tool.wait_for_boot(old)
        assert judged() == want
        stats, failed = role_run(lab, tmp_path, ROLE_VARS, old)
        assert failed is None and stats["changed"] == 0, (stats, failed)
    finally:
        stats, failed = role_run(lab, tmp_path, dict(ROLE_VARS, mptcp_state="absent"), old)
        assert failed is None, failed
