"""Every module of the collection, run through Ansible with the Pythons that managed hosts
have: 3.6 (RHEL 8's platform-python, driven by ansible-core 2.16, the last line that
drives it), 3.9 (RHEL 9), 3.12 (RHEL 10) and 3.13 (Debian 13), from pyenv, each driven by
the venv's ansible-core (the newest) unless said otherwise. A construct that a host's
Python lacks then fails here, not on a user's host.

Each inventory host is a namespace of the test whose ansible_python_interpreter is the
target Python run inside it (`ip netns exec NS pythonX.Y`): what the modules run with.
Modules given `netns:` enter another namespace themselves, through os.setns on 3.12+ and
the C library's setns() through ctypes before (plugins/module_utils/netns.py), so both
ways run. The target Pythons have no pyroute2: the path-manager modules run `ip`
(backend auto), as on a RHEL host without EPEL. nm_mptcp_flags needs NetworkManager,
which runs only in the lab's containers (their own Python 3.11 and 3.13): here it runs as
far as asking for NetworkManager, which loads all of its code, and must say clearly that
it is not there. Besides, every module and module_util is compiled by each target Python."""

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_output import assert_no_deprecation_of_ours, failed_cleanly

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
# The managed-host Pythons, and the ansible-core that drives each (None: the venv's).
TARGETS = [("3.6", "2.16.19"), ("3.9", None), ("3.12", None), ("3.13", None)]
PORT = 5210
SERVER_ADDRESS = "198.18.101.1"


def pyenv_python(version):
    """pyenv's pythonX.Y (newest patch release), or None."""
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip() \
        if _which("pyenv") else os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python" + version)),
                   key=lambda path: [int(part) for part in path.split("/versions/")[1].split("/")[0].split(".")])
    return found[-1] if found else None


def _which(name):
    return any(os.access(os.path.join(directory, name), os.X_OK)
               for directory in os.environ.get("PATH", "").split(os.pathsep))


class Target:
    """A managed-host Python and the ansible-core bin directory that drives it."""

    def __init__(self, version, python, bin_dir, core):
        self.version = version
        self.python = python
        self.bin_dir = bin_dir
        self.core = core

    def interpreter(self, netns, directory):
        """An interpreter path running this Python inside `netns` (None: where ansible runs)."""
        path = os.path.join(directory, "python%s-%s" % (self.version, netns.name if netns else "here"))
        with open(path, "w") as handle:
            if netns:
                handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (netns.name, self.python))
            else:
                handle.write('#!/bin/sh\nexec %s "$@"\n' % self.python)
        os.chmod(path, 0o755)
        return path

    def play(self, hosts, tasks, directory, check=True):
        """Runs `tasks` as one play on `hosts` ({name: netns}) with this Python and core;
        returns the finished ansible-playbook process (rc 0 asserted unless check=False)."""
        inventory = {"all": {"hosts": dict(
            (name, {"ansible_connection": "local",
                    "ansible_python_interpreter": self.interpreter(netns, directory)})
            for name, netns in hosts.items())}}
        play = [{"name": "modules on Python %s" % self.version, "hosts": "all", "gather_facts": False,
                 "tasks": tasks}]
        for name, content in (("inventory.yml", inventory), ("play.yml", play)):
            with open(os.path.join(directory, name), "w") as handle:
                yaml.safe_dump(content, handle)
        # No ansible.cfg of ours (its options may be newer than ansible-core 2.16's).
        config = os.path.join(directory, "ansible.cfg")
        with open(config, "w") as handle:
            handle.write("[defaults]\nretry_files_enabled = false\n")
        env = dict(os.environ, ANSIBLE_CONFIG=config, LC_ALL="C.UTF-8", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".tmp", "collections"),
                   ANSIBLE_ASYNC_DIR=os.path.join(directory, "async"))
        env.pop("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", None)
        argv = [os.path.join(self.bin_dir, "ansible-playbook"), "-i", os.path.join(directory, "inventory.yml"),
                os.path.join(directory, "play.yml")]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        assert_no_deprecation_of_ours(argv, proc.stderr)
        return proc


@pytest.fixture(scope="session", params=TARGETS, ids=["py" + entry[0] for entry in TARGETS])
def target(request):
    version, core = request.param
    python = pyenv_python(version)
    if python is None:
        pytest.skip("no Python %s from pyenv on this machine (pyenv install %s): the modules are not "
                    "run with it" % (version, version))
    if core is None:
        return Target(version, python, VENV_BIN, "the venv's")
    made = subprocess.run([os.path.join(REPO, "tools", "core-venv.sh"), core], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0 and "needs a Python" in made.stderr:
        pytest.skip("ansible-core %s cannot be installed here to drive Python %s: %s"
                    % (core, version, made.stderr.strip()))
    assert made.returncode == 0, made.stderr
    return Target(version, python, os.path.join(made.stdout.strip(), "bin"), core)


def examples(module, substitutions=()):
    """The EXAMPLES of plugins/modules/MODULE.py as tasks, after (old, new) replacements."""
    import ast
    with open(os.path.join(REPO, "plugins", "modules", module + ".py")) as source:
        tree = ast.parse(source.read())
    text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", None) == "EXAMPLES")
    for old, new in substitutions:
        assert old in text, (module, old)
        text = text.replace(old, new)
    return yaml.safe_load(text)


FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar")


def endpoints(ns):
    """(address, dev, flags) of each endpoint, as `ip -j mptcp endpoint show` says (flags
    are keys set to true there)."""
    return sorted((e["address"], e.get("dev"), tuple(flag for flag in FLAGS if e.get(flag)))
                  for e in ns.ip_json("mptcp", "endpoint", "show"))


def recap(proc, host):
    line = next(line for line in proc.stdout.splitlines() if line.startswith(host + " "))
    return dict((key, int(value)) for key, value in (word.split("=") for word in line.split(":", 1)[1].split()))


def test_every_module_and_module_util_compiles(target):
    """Syntax is checked on import; a module_util imported only on some path would slip
    through the runs below, so each file is compiled by the target Python too."""
    files = sorted(glob.glob(os.path.join(REPO, "plugins", "module_utils", "**", "*.py"), recursive=True)
                   + glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")))
    program = ("import sys\nfor path in sys.argv[1:]:\n"
               "    compile(open(path, 'rb').read(), path, 'exec', dont_inherit=True)\n")
    result = subprocess.run([target.python, "-c", program] + files, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert len(files) > 50  # the subpackages too (module_utils/*/*.py)


def test_mptcp_endpoint_examples(target, netns, make_netns, tmp_path):
    netns.add_interface("eth1", "192.0.2.10/24")
    blue = make_netns()
    proc = target.play({"host": netns}, examples("mptcp_endpoint", [("netns: blue", "netns: " + blue.name)]),
                       str(tmp_path))
    # All five report changed: the last one, in check mode, finds the drift it is for.
    assert recap(proc, "host")["changed"] == 5 and recap(proc, "host")["failed"] == 0
    assert endpoints(netns) == []
    assert endpoints(blue) == [("198.51.100.2", None, ("signal",)), ("2001:db8::2", None, ("subflow", "fullmesh"))]


def test_mptcp_path_manager_examples(target, netns, make_netns, tmp_path):
    netns.add_interface("eth1", "192.0.2.10/24")
    blue = make_netns()
    proc = target.play({"host": netns}, examples("mptcp_path_manager", [("netns: blue", "netns: " + blue.name)]),
                       str(tmp_path))
    assert recap(proc, "host")["changed"] == 3
    assert netns.limits() == {"subflows": 2, "add_addr_accepted": 0}
    assert endpoints(netns) == [("198.51.100.2", "eth1", ("signal",))]
    assert endpoints(blue) == []


def test_mptcp_limits_examples(target, netns, make_netns, tmp_path):
    blue = make_netns()
    target.play({"host": netns}, examples("mptcp_limits", [("netns: blue", "netns: " + blue.name)]), str(tmp_path))
    assert netns.limits() == {"subflows": 2, "add_addr_accepted": 2}
    assert blue.limits() == {"subflows": 4, "add_addr_accepted": 0}


def test_mptcp_info_examples_and_facts(target, netns, make_netns, tmp_path):
    """The EXAMPLES (their assert needs a signal endpoint), then the facts against `ip` and
    /proc/sys: those of another namespace are read by entering it (setns), so a value set
    only there tells whether the module really entered it."""
    netns.ip("mptcp", "endpoint", "add", "192.0.2.1", "signal")
    netns.ip("mptcp", "limits", "set", "subflows", "3")
    blue = make_netns()
    blue.ip("mptcp", "limits", "set", "add_addr_accepted", "5")
    blue.exec(sys.executable, "-c", "open('/proc/sys/net/mptcp/add_addr_timeout', 'w').write('97')")
    tasks = examples("mptcp_info", [("netns: blue", "netns: " + blue.name)]) + [
        {"mptcp.linux.mptcp_info": {"gather_subset": ["limits", "endpoints", "sysctl"], "facts": False},
         "register": "here"},
        # mptcp_facts: the same gathering, returned as facts.
        {"mptcp.linux.mptcp_facts": {"gather_subset": ["limits", "sysctl", "counters"], "netns": blue.name},
         "register": "there"},
        {"ansible.builtin.copy": {"content": "{{ {'here': here.mptcp, "
                                             "'there': there.ansible_facts.mptcp} | to_json }}",
                                  "dest": str(tmp_path / "facts.json"), "mode": "0644"}}]
    target.play({"host": netns}, tasks, str(tmp_path))
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["here"]["limits"]["subflows"] == netns.limits()["subflows"] == 3
    assert [e["address"] for e in facts["here"]["endpoints"]] == ["192.0.2.1"]
    assert facts["here"]["sysctl"]["add_addr_timeout"] == int(
        netns.exec("cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout) == 120
    assert facts["there"]["limits"]["add_addr_accepted"] == blue.limits()["add_addr_accepted"] == 5
    assert facts["there"]["sysctl"]["add_addr_timeout"] == 97
    assert "counters" not in facts["there"].get("unavailable", {})


def test_mptcp_sysctl(target, netns, tmp_path):
    """Set now and in a file of the test's, change, then stop persisting one key."""
    conf = tmp_path / "90-mptcp.conf"
    tasks = [
        {"mptcp.linux.mptcp_sysctl": {"settings": {"enabled": 1, "add_addr_timeout": 61}, "path": str(conf)}},
        {"mptcp.linux.mptcp_sysctl": {"settings": {"net.mptcp.add_addr_timeout": 62, "checksum_enabled": True},
                                      "path": str(conf)}, "check_mode": True, "diff": True},
        {"mptcp.linux.mptcp_sysctl": {"settings": {"add_addr_timeout": None}, "state": "absent", "path": str(conf)}},
        {"mptcp.linux.mptcp_sysctl": {"settings": {"checksum_enabled": True}, "runtime": False,
                                      "path": str(conf)}},
    ]
    proc = target.play({"host": netns}, tasks, str(tmp_path))
    assert recap(proc, "host")["changed"] == 4
    assert netns.exec("cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "61"
    assert netns.exec("cat", "/proc/sys/net/mptcp/checksum_enabled").stdout.strip() == "0"
    lines = [line for line in conf.read_text().splitlines() if line and not line.startswith("#")]
    assert lines == ["net.mptcp.checksum_enabled = 1", "net.mptcp.enabled = 1"]


def test_mptcp_systemd(target, tmp_path):
    """A unit and a drop-in in a directory of the test's (no daemon-reload), then removed."""
    unit_dir = tmp_path / "system"
    unit = "[Unit]\nDescription=test\n[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
    dropin = "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1\"\n"
    unit_dir.mkdir()
    base = {"unit_dir": str(unit_dir), "daemon_reload": False}
    tasks = [
        {"mptcp.linux.mptcp_systemd": dict(base, unit={"name": "mptcp-pm.service", "content": unit, "enabled": False},
                                           dropin={"name": "50-mptcp.conf", "content": dropin,
                                                   "services": ["iperf3.service", "nginx.service"]}),
         "register": "made"},
        {"ansible.builtin.assert": {"that": ["made.services_changed | sort == ['iperf3.service', 'nginx.service']"]}},
        {"mptcp.linux.mptcp_systemd": dict(base, dropin={"name": "50-mptcp.conf", "content": dropin,
                                                         "services": ["iperf3.service"]})},
    ]
    target.play({"host": None}, tasks, str(tmp_path))
    assert (unit_dir / "mptcp-pm.service").read_text() == unit
    assert (unit_dir / "iperf3.service.d" / "50-mptcp.conf").read_text() == dropin
    assert not (unit_dir / "nginx.service.d" / "50-mptcp.conf").exists()
    target.play({"host": None}, [{"mptcp.linux.mptcp_systemd": dict(
        base, unit={"name": "mptcp-pm.service", "state": "absent"}, dropin={"name": "50-mptcp.conf", "services": []})}],
        str(tmp_path))
    assert not (unit_dir / "mptcp-pm.service").exists()
    assert not (unit_dir / "iperf3.service.d" / "50-mptcp.conf").exists()


def test_mptcp_transfer_examples(target, make_netns, tmp_path):
    """The EXAMPLES as written (server in the background with async, a client that takes a
    link down mid-transfer, async_status), between two namespaces with two links each."""
    server, client = make_netns(), make_netns()
    client.link_to(server, "c1", "s1", "198.18.101.2/24", "198.18.101.1/24")
    client.link_to(server, "c2", "s2", "198.18.102.2/24", "198.18.102.1/24")
    server.ip("mptcp", "endpoint", "add", "198.18.102.1", "dev", "s2", "signal")
    server.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
    client.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "1")
    for link in ("c1", "c2"):
        client.exec("tc", "qdisc", "replace", "dev", link, "root", "tbf", "rate", "50mbit", "burst", "32kbit",
                    "latency", "50ms")
    tasks = examples("mptcp_transfer", [("server.example.com", "server"), ("198.18.1.10", SERVER_ADDRESS),
                                        ("eth1", "c1"), ("64MiB", "8MiB")])
    proc = target.play({"server": server, "client": client}, [dict(task, when="inventory_hostname == 'client'")
                                                              for task in tasks], str(tmp_path))
    assert recap(proc, "client")["failed"] == 0 and recap(proc, "client")["ok"] == 4


def test_nm_mptcp_flags_says_networkmanager_is_missing(target, netns, tmp_path):
    """No NetworkManager in a namespace: the module loads all its code, then fails clearly."""
    tasks = [{"mptcp.linux.nm_mptcp_flags": {"name": "lab-eth1", "flags": ["subflow"]}, "register": "nm",
              "ignore_errors": True},
             {"ansible.builtin.copy": {"content": "{{ nm | to_json }}", "dest": str(tmp_path / "nm.json"),
                                       "mode": "0644"}}]
    target.play({"host": netns}, tasks, str(tmp_path))
    result = json.loads((tmp_path / "nm.json").read_text())
    assert result["failed"] is True
    assert failed_cleanly(result), result
    assert "NetworkManager" in result["msg"] or "nmcli" in result["msg"], result["msg"]


def test_the_target_python_is_the_one_that_ran(target, netns, tmp_path):
    """The wrapper really runs the target Python in the namespace (a module reports it)."""
    tasks = [{"ansible.builtin.setup": {"gather_subset": ["!all", "!min", "python"]}, "register": "facts"},
             {"ansible.builtin.copy": {"content": "{{ facts.ansible_facts.ansible_python.version | to_json }}",
                                       "dest": str(tmp_path / "python.json"), "mode": "0644"}}]
    target.play({"host": netns}, tasks, str(tmp_path))
    version = json.loads((tmp_path / "python.json").read_text())
    assert "%d.%d" % (version["major"], version["minor"]) == target.version
    assert sys.executable != target.python


def test_the_role_refuses_ansible_core_2_14_and_says_why(netns, tmp_path):
    """RHEL 9's ansible-core 2.14 is not supported (README): the role stops before it does
    anything, with the reason, instead of running untested."""
    made = subprocess.run([os.path.join(REPO, "tools", "core-venv.sh"), "2.14.18"], capture_output=True,
                          text=True, check=False)
    if made.returncode != 0 and "needs a Python" in made.stderr:
        pytest.skip("ansible-core 2.14 cannot be installed here: %s" % made.stderr.strip())
    assert made.returncode == 0, made.stderr
    venv = made.stdout.strip()
    conf = tmp_path / "90-mptcp.conf"
    core = Target("2.14's own", os.path.join(venv, "bin", "python"), os.path.join(venv, "bin"), "2.14.18")
    play = [{"ansible.builtin.include_role": {"name": "mptcp.linux.mptcp"},
             "vars": {"mptcp_install_packages": False, "mptcp_persist": False, "mptcp_sysctl_path": str(conf),
                      "mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 77}}}]
    proc = core.play({"host": netns}, play, str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "mptcp.linux needs ansible-core 2.15 or later; this is 2.14.18" in proc.stdout, proc.stdout
    assert not conf.exists()
    assert netns.exec("cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "120"


@pytest.fixture(scope="session")
def with_pyroute2(target):
    """The target Python in a venv of its own with pyroute2 from PyPI, as a host with
    python3-pyroute2 has; a skip saying why where pip cannot install it for that Python.
    On 3.6, pip takes pyroute2 0.9.2, which does not import there (typing.Literal): 0.7.x,
    the last line for 3.6 (EPEL 8 ships 0.7), is asked for instead."""
    venv = os.path.join(REPO, ".venv-core", "target-py%s-pyroute2" % target.version)
    python = os.path.join(venv, "bin", "python")
    ready = os.path.join(venv, "ready")
    if not os.path.exists(ready):
        subprocess.run(["rm", "-rf", venv], check=True)
        subprocess.run([target.python, "-m", "venv", venv], check=True)
        # 3.6's own pip 18 honours no Requires-Python of the packages here: it takes the
        # newest pip, and pyroute2 0.7's importlib-metadata, for Python 3.10 and gives up.
        # So the last pip and pyroute2 lines for 3.6 are named.
        old = target.version == "3.6"
        for packages in (["--upgrade", "pip<22" if old else "pip"], ["pyroute2<0.8" if old else "pyroute2"]):
            installed = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
                                       + packages, capture_output=True, text=True, check=False)
            if installed.returncode != 0:
                break
        if installed.returncode != 0:
            errors = [line for line in installed.stderr.splitlines() if "is ignored" not in line]
            pytest.skip("pip cannot install pyroute2 for Python %s: %s" % (target.version, " ".join(errors)[-500:]))
        open(ready, "w").close()
    return Target(target.version, python, target.bin_dir, target.core)


def test_mptcp_endpoint_through_pyroute2(with_pyroute2, netns, make_netns, tmp_path):
    """backend: pyroute2 (its socket opened inside the namespace, netns.py) adds, changes
    in place and removes endpoints, as `ip` then shows."""
    netns.add_interface("eth1", "192.0.2.10/24")
    blue = make_netns()
    blue.add_interface("eth1", "198.51.100.2/24")
    base = {"backend": "pyroute2"}
    tasks = [
        {"mptcp.linux.mptcp_endpoint": dict(base, address="192.0.2.10", dev="eth1", flags=["subflow"])},
        {"mptcp.linux.mptcp_endpoint": dict(base, address="192.0.2.10", flags=["subflow", "backup"])},
        {"mptcp.linux.mptcp_endpoint": dict(base, netns=blue.name, exclusive=True,
                                            endpoints=[{"address": "198.51.100.2", "id": 5, "flags": ["signal"]}])},
        {"mptcp.linux.mptcp_limits": dict(base, subflows=3, netns=blue.name)},
        {"mptcp.linux.mptcp_info": {"gather_subset": ["tools"], "facts": False}, "register": "info"},
        {"ansible.builtin.copy": {"content": "{{ info.mptcp.tools | to_json }}",
                                  "dest": str(tmp_path / "tools.json"), "mode": "0644"}},
    ]
    proc = with_pyroute2.play({"host": netns}, tasks, str(tmp_path))
    assert recap(proc, "host")["changed"] == 5  # the four changes and the copy
    assert endpoints(netns) == [("192.0.2.10", "eth1", ("subflow", "backup"))]
    assert endpoints(blue) == [("198.51.100.2", None, ("signal",))]
    assert blue.limits()["subflows"] == 3
    tools = json.loads((tmp_path / "tools.json").read_text())
    assert tools["pyroute2"], tools
