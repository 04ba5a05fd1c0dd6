"""A lab of this test session's own: a Debian 12 (NetworkManager 1.42) and a Debian 13
(NetworkManager 1.52) host from lab/lab.py, under a name and on subnets no other lab
uses, always torn down at the end of the session, however it ends.

Tests reach the hosts through Ansible as a fleet is reached (the lab's inventory: SSH as
the user `lab` on the management network, become with sudo, pipelining and ControlPersist
from ansible.cfg) and check what happened with `podman exec HOST ...`, which needs none
of that."""

import json
import os
import subprocess
import sys

import yaml

# On the newest ansible-core (the venv's), every ansible and ansible-playbook run of these
# tests fails on a deprecation warning that names our content.
from ansible_output import assert_no_deprecation_of_ours

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
LAB_PY = os.path.join(REPO, "lab", "lab.py")
CONTAINERS_CONF = os.path.join(REPO, "lab", "containers.conf")
DISTROS = ("debian12", "debian13")
# Debian 11 (NetworkManager 1.30 without connection.mptcp-flags, iproute2 5.10 without
# `endpoint change` and fullmesh, no mptcpize, systemd 247, Python 3.9) beside them, for the
# tests of behaviours that depend on those versions (test_old_userland_lab.py).
ALL_DISTROS = ("debian11",) + DISTROS
# Candidate /24s for the session's three networks (eth0, eth1, mgmt0): far from the demo lab's 198.18.1-2 and
# from hand-made labs, each pair checked with `lab.py check-subnets` before use.
SUBNET_CANDIDATES = ["198.18.%d.0/24" % octet for octet in range(120, 200)]


def _env(**extra):
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF, LC_ALL="C.UTF-8",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.environ.get(
                   "ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".tmp", "collections")))
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def _lab(name, *args, check=True):
    result = subprocess.run([sys.executable, LAB_PY, "--name", name] + list(args),
                            capture_output=True, text=True, env=_env(), check=False)
    if check and result.returncode != 0:
        raise RuntimeError("lab.py %s failed (rc=%d):\n%s\n%s"
                           % (" ".join(args), result.returncode, result.stdout, result.stderr))
    return result


def free_subnets(name, first=()):
    """Three /24s no route and no lab uses (eth0's, eth1's, the management network's): the
    three `first` if they are free, else candidates."""
    candidates = list(first) + SUBNET_CANDIDATES
    for three in zip(candidates[0::3], candidates[1::3], candidates[2::3]):
        if _lab(name, "check-subnets", *three, check=False).returncode == 0:
            return list(three)
    raise RuntimeError("no three free /24s among %s-%s" % (SUBNET_CANDIDATES[0], SUBNET_CANDIDATES[-1]))


class Lab:
    def __init__(self, name, hosts):
        self.name = name
        self.hosts = hosts  # {container name: distro}
        self.inventory = os.path.join(REPO, ".lab", name, "inventory.yml")
        with open(self.inventory) as handle:
            self.hostvars = yaml.safe_load(handle)["all"]["hosts"]

    def address(self, host, iface):
        """The IPv4 address lab.py gave `iface` (eth0, eth1) of `host`."""
        return self.hostvars[host]["lab_addresses"][iface]

    def exec(self, host, *argv, check=True):
        """`podman exec HOST argv...`: the oracle, independent of the code under test."""
        result = subprocess.run(["podman", "exec", "-e", "LC_ALL=C.UTF-8", host] + list(argv),
                                capture_output=True, text=True, env=_env(), check=False)
        if check and result.returncode != 0:
            raise AssertionError("%s: %s failed (rc=%d): %s%s" % (
                host, " ".join(argv), result.returncode, result.stdout, result.stderr))
        return result

    def exec_all(self, *argv):
        """`podman exec HOST argv...` on every host at once; {host: CompletedProcess}."""
        running = dict((host, subprocess.Popen(
            ["podman", "exec", "-e", "LC_ALL=C.UTF-8", host] + list(argv), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=_env())) for host in self.hosts)
        results = {}
        for host, proc in running.items():
            out, err = proc.communicate()
            results[host] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return results

    def module(self, module, args, hosts=None, check=False, diff=True, extra_env=None):
        """Run mptcp.linux.MODULE with `args` on the hosts (default: all) through
        `ansible`, and return {host: result}."""
        pattern = ",".join(hosts) if hosts else "all"
        argv = [os.path.join(BIN, "ansible"), "-i", self.inventory, pattern,
                "-m", module if "." in module else "mptcp.linux." + module, "-a", json.dumps(args)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        env = _env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   **(extra_env or {}))
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert_no_deprecation_of_ours(argv, proc.stderr)
        try:
            return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("no result from %s:\n%s\n%s" % (argv, proc.stdout, proc.stderr))

    def playbook(self, path, *args, **extra_env):
        argv = [os.path.join(BIN, "ansible-playbook"), "-i", self.inventory, path] + list(args)
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env(**extra_env), check=False)
        assert_no_deprecation_of_ours(argv, proc.stderr)
        return proc

    def json_playbook(self, path, *args):
        """The playbook's ansible.posix.json report (its tasks, each host's result)."""
        proc = self.playbook(path, *args, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("no report from %s:\n%s\n%s" % (path, proc.stdout, proc.stderr))


def _lab_up(name, first_subnets=(), distros=DISTROS):
    hosts = dict(("%s-%s" % (name, distro.replace("debian", "deb")), distro) for distro in distros)
    specs = []
    for host, distro in hosts.items():
        specs += ["--host", "%s=%s" % (host, distro)]
    subnets = free_subnets(name, first_subnets)
    _lab(name, "up", *(specs + ["--subnet", subnets[0], "--subnet", subnets[1], "--mgmt-subnet", subnets[2]]))
    return Lab(name, hosts)
