"""The collection as users get it: `ansible-galaxy collection build`, installed into an
empty path, then a module (read-only, on this machine) and the role (on a lab of this
module's own) run from it by FQCN. Nothing the artifact needs is missing, and nothing it
should not carry is in it. In tests/lab because the role needs a host it may change
through and through (systemd units, /etc/sysctl.d, NetworkManager): not this one."""

import json
import os
import re
import subprocess
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
# Development only: at the top of the tree, and caches anywhere in it.
FORBIDDEN_TOP = (".venv", ".venv-core", ".lab", ".tmp", ".git", ".ci", "tests/output", "benchmarks", "lab",
                 "molecule", "ansible.cfg", "tools", "requirements", "Makefile")
FORBIDDEN_ANYWHERE = ("__pycache__", ".pytest_cache", ".hypothesis")
# The role runs on a lab of this module's own (conftest.own_lab).
LAB_PREFIX = "rel-art"
LAB_SUBNETS = ["198.18.145.0/24", "198.18.146.0/24", "198.18.147.0/24"]
# Every part of the role, with values the hosts would not have without it (the kernel's
# defaults: add_addr_timeout 120, subflows 2, add_addr_accepted 0, no endpoint).
ROLE_VARS = {
    "mptcp_install_packages": False,
    "mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 90},
    "mptcp_limits": {"subflows": 3, "add_addr_accepted": 2},
    "mptcp_endpoints": [{"address": "{{ lab_addresses.eth1 }}", "dev": "eth1", "flags": ["signal"]}],
    "mptcp_nm_profiles": [{"name": "lab-eth0", "flags": ["enabled", "subflow"]}, {"name": "lab-eth1", "flags": ["disabled"]}],
    "mptcp_mptcpize_services": ["iperf3"],
}


def run(argv, env=None, check=True, cwd=None):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd,
                            env=dict(os.environ, LC_ALL="C.UTF-8", **(env or {})))
    if check and result.returncode != 0:
        raise AssertionError("%s: rc=%d\n%s\n%s" % (argv, result.returncode, result.stdout, result.stderr))
    return result


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), REPO])
    (tarball,) = out.glob("mptcp-linux-*.tar.gz")
    return tarball


@pytest.fixture(scope="module")
def installed(artifact, tmp_path_factory):
    path = tmp_path_factory.mktemp("collections")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(path), str(artifact)],
        env=ansible_env(path))
    assert (path / "ansible_collections" / "mptcp" / "linux" / "MANIFEST.json").is_file()
    return path


def test_artifact_carries_nothing_it_should_not(artifact):
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    bad = [n for n in names if any(n == f or n.startswith(f + "/") for f in FORBIDDEN_TOP)
           or any(part in FORBIDDEN_ANYWHERE for part in n.split("/"))]
    assert bad == []
    assert len(names) < 400, len(names)


def test_artifact_carries_what_users_need(artifact):
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml",
                   "meta/execution-environment.yml", "requirements.txt", "bindep.txt",
                   "plugins/modules/mptcp_endpoint.py", "plugins/module_utils/path_manager/plan.py",
                   "plugins/filter/systemd.py", "roles/mptcp/tasks/main.yml",
                   "roles/mptcp/meta/argument_specs.yml", "playbooks/site.yml"):
        assert needed in names, needed


def recap(stdout, host):
    """{"ok": N, "changed": N, ...} from the PLAY RECAP line of `host`."""
    line, = [line for line in stdout.splitlines() if re.match(r"%s\s+:" % re.escape(host), line)]
    return dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", line))


def ansible_env(installed):
    # Only the installed artifact: not this checkout, not the venv's site-packages copy.
    return {"ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")}


def test_module_runs_from_the_artifact(installed, tmp_path):
    # The result as JSON through ansible-core's own tree callback (-t), which every line
    # has; only the artifact is on the collections path, so no ansible.posix.json here.
    run([os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-m",
         "mptcp.linux.mptcp_info", "-a", "gather_subset=limits facts=false", "-t", str(tmp_path / "tree")],
        env=ansible_env(installed))
    facts = json.loads((tmp_path / "tree" / "localhost").read_text())["mptcp"]
    assert facts["supported"] is True and sorted(facts["limits"]) == ["add_addr_accepted", "subflows"]
    assert str(installed) in run([os.path.join(BIN, "ansible-doc"), "--json", "mptcp.linux.mptcp_endpoint"],
                                 env=ansible_env(installed)).stdout


def test_role_runs_from_the_artifact(installed, own_lab, tmp_path):
    """The role by FQCN, from the installed artifact only, on the lab's Debian 12 and 13
    hosts (systemd as PID 1, NetworkManager): never on this machine, whose
    /etc/systemd and /etc/sysctl.d it would rewrite. Every part it sets is read back with
    the host's own tools; a second run changes nothing."""
    # The lab is reached over SSH (ansible-core's own connection): the artifact is the only
    # collection on the path.
    env = dict(ansible_env(installed), ANSIBLE_COLLECTIONS_PATH=str(installed))
    collections = json.loads(run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "mptcp.linux",
                                  "--format", "json"], env=env).stdout)
    assert list(collections) == [str(installed / "ansible_collections")], collections
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False,
                                         "roles": [{"role": "mptcp.linux.mptcp", "vars": ROLE_VARS}]}]))
    recaps = []
    for attempt in ("first", "again"):
        proc = own_lab.playbook(str(playbook), **env)
        assert proc.returncode == 0, "%s run:\n%s%s" % (attempt, proc.stdout, proc.stderr)
        recaps.append(dict((host, recap(proc.stdout, host)) for host in own_lab.hosts))
    for host in own_lab.hosts:
        eth1 = own_lab.address(host, "eth1")
        assert recaps[0][host]["failed"] == 0 and recaps[0][host]["changed"] > 0, recaps
        assert (recaps[1][host]["failed"], recaps[1][host]["changed"]) == (0, 0), recaps
        assert own_lab.exec(host, "cat", "/etc/sysctl.d/90-mptcp.conf").stdout.splitlines()[1:] == [
            "net.mptcp.add_addr_timeout = 90", "net.mptcp.enabled = 1"]
        assert own_lab.exec(host, "cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "90"
        assert own_lab.exec(host, "ip", "mptcp", "limits", "show").stdout.split() == [
            "add_addr_accepted", "2", "subflows", "3"]
        assert [(e["address"], e.get("dev"), sorted(k for k, v in e.items() if v is True)) for e in json.loads(
            own_lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout)
            if e["address"] == eth1] == [(eth1, "eth1", ["signal"])]
        assert own_lab.exec(host, "systemctl", "is-enabled", "mptcp-pm.service").stdout.strip() == "enabled"
        environment = own_lab.exec(host, "systemctl", "show", "-p", "Environment,DropInPaths", "iperf3.service").stdout
        assert "LD_PRELOAD=" in environment and "/etc/systemd/system/iperf3.service.d/50-mptcp.conf" in environment
        assert own_lab.exec(host, "nmcli", "-g", "connection.mptcp-flags", "connection", "show",
                            "lab-eth1").stdout.strip() == "0x1"


def test_execution_environment_gets_the_dependencies(installed):
    """ansible-builder reads meta/execution-environment.yml of the installed collection."""
    result = run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(installed)])
    assert "pyroute2" in result.stdout
    assert "iproute2 [platform:dpkg]" in result.stdout and "iproute [platform:rpm]" in result.stdout
