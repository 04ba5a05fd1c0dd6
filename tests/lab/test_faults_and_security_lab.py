"""The role on a lab of this module's own (Debian 12 with systemd 252 and NetworkManager
1.42, Debian 13 with 257 and 1.52), under faults and against hostile values:

- NetworkManager stopped: the role stops before anything changes;
- two runs of the role on the same hosts at once: both succeed, no file is corrupted, the
  state is the role's (a third run changes nothing);
- a host restarted in the middle of a run (while NetworkManager's flags are being set,
  after the sysctl file was written), then the role run again: the state is right;
- unit lines made by the collection's systemd filters, with spaces, quotes, `$`, `%`,
  `;`, newlines, tabs, backslashes, non-ASCII and empty arguments, run exactly the
  arguments given under the real systemd 252 and 257;
- a preload library that is not where the distribution puts it (a link from the system
  library directory to elsewhere) is refused before anything changes.

The hosts' state is read with bad_input_table's snapshot program, `podman exec`."""

import importlib.util
import json
import os
import subprocess
import time

import pytest
import yaml

from ansible_collections.mptcp.linux.plugins.filter.systemd import systemd_environment, systemd_exec
from bad_input_table import LAB_STATE, ROLE_FIRST as FIRST, ROLE_SECOND as SECOND, SNAPSHOT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_PREFIX = "rel-faults"
LAB_SUBNETS = ["198.18.143.0/24", "198.18.144.0/24", "198.18.148.0/24"]
# Every kind of character systemd's unit parser treats specially, and then some.
HOSTILE_ARGS = ["two words", 'say "hi"', "it's", "$HOME", "${HOME}", "$$", "100%", "%n %h", "a;b", ";", "\\;",
                "new\nline", "tab\there", "back\\slash", "", "\u00fcn\u00efc\u00f6d\u00e9", "-x", "# not a comment"]
HOSTILE_VALUE = 'a b "q" \'s\' $HOME ${HOME} %h ; x\\y\nz'
QUOTING_UNIT = "mptcp-quoting-test.service"
QUOTING_OUT = "/run/mptcp-quoting-test.out"
LIBRARY = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
ELSEWHERE = "/opt/mptcp-test/libmptcpwrap.so.0.0.1"
BLOCKED = "/run/mptcp-test-nmcli-blocked"
# An nmcli that hangs (until the host restarts) when asked to change a profile.
HANGING_NMCLI = """#!/bin/sh
case " $* " in *" modify "*) touch %s; exec sleep 3600;; esac
exec /usr/bin/nmcli "$@"
""" % BLOCKED

_spec = importlib.util.spec_from_file_location("lab_tool", os.path.join(REPO, "lab", "lab.py"))
lab_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_tool)


def state(lab, host):
    return json.loads(lab.exec(host, "python3", "-c", SNAPSHOT, json.dumps(LAB_STATE)).stdout)


def states(lab):
    return dict((host, state(lab, host)) for host in lab.hosts)


def role_playbook(tmp_path, variables, name="role.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump([{"name": "the role", "hosts": "all", "gather_facts": False,
                                     "roles": [{"role": "mptcp.linux.mptcp", "vars": variables}]}]))
    return str(path)


def flat(output):
    """ansible-playbook's output with the yaml callback's line breaks undone."""
    return " ".join(output.split())


def recap(output):
    """{host: {ok, changed, failed, ...}} from PLAY RECAP."""
    found = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines()[1:]:
        if ":" in line:
            host, counts = line.split(":", 1)
            found[host.strip()] = dict((k, int(v)) for k, v in (word.split("=") for word in counts.split()))
    return found


def apply(lab, tmp_path, variables, *args):
    proc = lab.playbook(role_playbook(tmp_path, variables), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return recap(proc.stdout)


def assert_settled(lab, tmp_path, variables, only=None):
    """The hosts (or the one host `only`) hold what the role sets: a run changes nothing,
    and no file of the role's is half written or left behind as a temporary file."""
    args = ("--limit", only) if only else ()
    assert all(counts["changed"] == 0 for counts in apply(lab, tmp_path, variables, *args).values())
    for host in [only] if only else lab.hosts:
        found = state(lab, host)
        leftovers = [path for path in found["files"] if os.path.basename(path).startswith(".")]
        assert leftovers == [], (host, leftovers)
        assert found["files"]["/etc/sysctl.d/90-mptcp.conf"][3] == (
            "# Managed by Ansible (mptcp.linux.mptcp_sysctl): edits here are overwritten.\n"
            "net.mptcp.add_addr_timeout = %d\nnet.mptcp.enabled = 1\n" % variables["mptcp_sysctl"]["add_addr_timeout"])
        assert found["units"] == {"mptcp-pm.service": "enabled"}


@pytest.fixture(scope="module")
def hosts(own_lab, tmp_path_factory):
    """The lab with the role applied once (FIRST). The tests run in this file's order and
    each starts from what the one before left (a role run costs seconds): FIRST until the
    two runs at once set SECOND; each test that needs another start sets it itself."""
    apply(own_lab, tmp_path_factory.mktemp("first"), FIRST)
    return own_lab


def test_network_manager_stopped_stops_the_role_before_anything_changes(hosts, tmp_path):
    before = states(hosts)
    try:
        for host in hosts.hosts:
            hosts.exec(host, "systemctl", "stop", "NetworkManager")
        proc = hosts.playbook(role_playbook(tmp_path, SECOND))
        during = states(hosts)
    finally:
        for host in hosts.hosts:
            hosts.exec(host, "systemctl", "start", "NetworkManager")
        for host in hosts.hosts:
            lab_tool.wait_for_boot(host)
    assert proc.returncode == 2, proc.stdout
    for host in hosts.hosts:
        assert ("mptcp_nm_profiles lists lab-eth0, lab-eth1, but %s cannot tell its profiles: NetworkManager is "
                "not running (nmcli said: Error: NetworkManager is not running.)" % host) in flat(proc.stdout)
        assert during[host] == dict(before[host], nm=during[host]["nm"]), host


def test_two_runs_at_once_both_succeed_and_leave_the_state_right(hosts, tmp_path):
    playbook = role_playbook(tmp_path, SECOND)
    argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", hosts.inventory, playbook]
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"), LC_ALL="C.UTF-8")
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            for _index in range(2)]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert_settled(hosts, tmp_path, SECOND)


def test_a_host_restarted_mid_run_is_set_right_by_the_next_run(hosts, tmp_path):
    """The run hangs where it sets NetworkManager's flags (an nmcli that waits), after it
    wrote the sysctl file; the host is restarted there, then the role runs again."""
    host = sorted(hosts.hosts)[0]
    apply(hosts, tmp_path, FIRST)
    hosts.exec(host, "python3", "-c", "import os, sys; open(sys.argv[1], 'w').write(sys.argv[2]); os.chmod(sys.argv[1], 0o755)",
               "/usr/local/bin/nmcli", HANGING_NMCLI)
    try:
        running = subprocess.Popen(
            [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", hosts.inventory, "--limit", host,
             role_playbook(tmp_path, SECOND)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"), LC_ALL="C.UTF-8"))
        deadline = time.monotonic() + 300
        while hosts.exec(host, "test", "-e", BLOCKED, check=False).returncode != 0:
            assert running.poll() is None and time.monotonic() < deadline, "the run did not reach nmcli"
            time.sleep(0.2)
        subprocess.run(["podman", "restart", "-t", "5", host], check=True, capture_output=True,
                       env=dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf")))
        output = running.communicate()[0]
        lab_tool.wait_for_boot(host)
    finally:
        hosts.exec(host, "rm", "-f", "/usr/local/bin/nmcli", check=False)
    assert running.returncode != 0, output
    rebooted = state(hosts, host)
    assert "net.mptcp.add_addr_timeout = 90" in rebooted["files"]["/etc/sysctl.d/90-mptcp.conf"][3]
    assert rebooted["sysctl"]["add_addr_timeout"] == "90\n", "systemd-sysctl applied the file at boot"
    assert rebooted["limits"][1].split() == ["add_addr_accepted", "1", "subflows", "2"], "mptcp-pm.service at boot"
    apply(hosts, tmp_path, SECOND, "--limit", host)
    assert_settled(hosts, tmp_path, SECOND, only=host)
    after = state(hosts, host)
    assert after["limits"][1].split() == ["add_addr_accepted", "2", "subflows", "4"]
    assert after["nm"]["lab-eth0"][1].strip() == "0x12"
    eth1 = [e for e in json.loads(after["endpoints"][1]) if e.get("dev") == "eth1"]
    assert [set(e.get("flags", [])) | set(k for k, v in e.items() if v is True) for e in eth1] == [{"signal"}]


def test_unit_lines_from_the_filters_run_exactly_the_arguments_given(hosts, tmp_path):
    """A oneshot unit whose ExecStart is printf of every hostile argument, NUL after each,
    and whose Environment holds a hostile value that printenv prints: systemd runs
    exactly those arguments, with exactly that value, on 252 and 257."""
    argv = ["/usr/bin/printf", "%s\\0"] + HOSTILE_ARGS
    unit = ("[Unit]\nDescription=mptcp.linux quoting test\n\n[Service]\nType=oneshot\n"
            "StandardOutput=append:%s\nEnvironment=%s\nExecStart=%s\nExecStart=%s\n"
            % (QUOTING_OUT, systemd_environment("HOSTILE=" + HOSTILE_VALUE), systemd_exec(argv),
               systemd_exec(["/usr/bin/printenv", "HOSTILE"])))
    play = [{"name": "quoting", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "unit", "ansible.builtin.copy": {"content": unit, "dest": "/etc/systemd/system/" + QUOTING_UNIT,
                                                  "mode": "0644"}},
        {"name": "run", "ansible.builtin.systemd_service": {"name": QUOTING_UNIT, "state": "started", "daemon_reload": True}}]}]
    path = tmp_path / "quoting.yml"
    path.write_text(yaml.safe_dump(play, allow_unicode=True), encoding="utf-8")
    try:
        proc = hosts.playbook(str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for host in hosts.hosts:
            out = subprocess.run(["podman", "exec", host, "cat", QUOTING_OUT], capture_output=True, check=True,
                                 env=dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"))).stdout
            expected = b"".join(arg.encode("utf-8") + b"\0" for arg in HOSTILE_ARGS) + HOSTILE_VALUE.encode("utf-8") + b"\n"
            assert out == expected, (host, out)
    finally:
        for host in hosts.hosts:
            hosts.exec(host, "rm", "-f", "/etc/systemd/system/" + QUOTING_UNIT, QUOTING_OUT, check=False)
            hosts.exec(host, "systemctl", "daemon-reload", check=False)


def test_a_preload_library_outside_the_system_directories_is_refused(hosts, tmp_path):
    """The library's file is moved to /opt and linked from where the package put it."""
    before = states(hosts)
    move = ("import os, sys; library, elsewhere = sys.argv[1:]; os.makedirs(os.path.dirname(elsewhere), exist_ok=True); "
            "os.rename(library, elsewhere); os.symlink(elsewhere, library)")
    back = ("import os, sys; library, elsewhere = sys.argv[1:]; os.path.islink(library) and os.unlink(library); "
            "os.path.exists(elsewhere) and os.rename(elsewhere, library)")
    try:
        for host in hosts.hosts:
            hosts.exec(host, "python3", "-c", move, LIBRARY, ELSEWHERE)
        proc = hosts.playbook(role_playbook(tmp_path, dict(FIRST, mptcp_mptcpize_services=["iperf3"], mptcp_install_packages=False)))
        during = states(hosts)
    finally:
        for host in hosts.hosts:
            hosts.exec(host, "python3", "-c", back, LIBRARY, ELSEWHERE)
    assert proc.returncode == 2, proc.stdout
    for host in hosts.hosts:
        assert ("The mptcpize library found on %s, %s, is not under /usr/lib, /usr/lib64, /lib, /lib64, /usr/local/lib"
                % (host, ELSEWHERE)) in flat(proc.stdout)
        assert during[host] == before[host], host
