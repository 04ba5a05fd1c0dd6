"""Faults of the way a fleet is reached: SSH as an unprivileged user who becomes root with
sudo (the lab's inventory). Each fault is made on purpose and judged with `podman exec`,
which does not go through SSH.

- The connection lost while a module changes the host: the management link cut (mgmt0
  down) or the host's sshd session processes of the lab user killed, while the module
  waits at the host lock the test holds, so the cut falls inside the module's run every
  time. The host keeps a state that is the old or the new one, the run reports the host
  UNREACHABLE, and the next run converges.
- sudo that wants a password, a user without sudo, `Defaults requiretty`: the run fails
  on its first task with sudo's reason, and nothing on the host changes.
- One host of three unreachable and one failing: the third converges, and the drift
  report names the two with their reasons."""

import json
import os
import secrets
import subprocess
import time

import pytest

import lab_session as shared

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LAB_PREFIX = "h4-ssh"
LAB_SUBNETS = ["198.18.103.0/24", "198.18.104.0/24", "198.18.105.0/24"]
FLEET_SUBNETS = ["198.18.106.0/24", "198.18.107.0/24", "198.18.108.0/24"]
SITE = os.path.join(REPO, "playbooks", "site.yml")
DRIFT = os.path.join(REPO, "playbooks", "drift.yml")
LAB_VARS = "@" + os.path.join(REPO, "lab", "mptcp-vars.yml")
RUN_BOUND = 180  # seconds: a cut run ends in ServerAlive's 15 s (ansible.cfg), a fresh one in seconds

# Holds an exclusive lock on argv[1] as another run of a module would, prints its pid once
# it has it, and lets go when its stdin closes.
HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print(os.getpid(), flush=True)
sys.stdin.read()
"""
# The processes that have argv[1] open. (NetworkManager keeps its network namespace open:
# a module run at the lock is a process that was not there before.)
OPENED_BY = """
import os, sys
lock = os.stat(sys.argv[1])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        for fd in os.listdir("/proc/%s/fd" % pid):
            st = os.stat("/proc/%s/fd/%s" % (pid, fd))
            if (st.st_dev, st.st_ino) == (lock.st_dev, lock.st_ino):
                print(pid)
                break
    except OSError:
        pass
"""

# What each module owns on the host, read with the host's own tools. The sysctl part
# lists /etc/sysctl.d too: a temporary file left there is a half-done write.
STATE = {
    # (iproute2 6.1 has no JSON for the limits)
    "mptcp_path_manager": "ip mptcp limits show; ip -j mptcp endpoint show",
    "mptcp_sysctl": "ls -a /etc/sysctl.d; cat /etc/sysctl.d/90-mptcp.conf 2>/dev/null || echo no file;"
                    " cat /proc/sys/net/mptcp/add_addr_timeout",
}
# What the role manages, for "nothing changed" (file times included: a rewrite shows).
SNAPSHOT = r"""
cat /proc/sys/net/mptcp/enabled /proc/sys/net/mptcp/add_addr_timeout
ip mptcp limits show
ip mptcp endpoint show
for p in lab-eth0 lab-eth1; do nmcli -g connection.mptcp-flags connection show "$p"; done
ls -la --time-style=+%s /etc/sysctl.d /etc/systemd/system
"""
CUTS = ("link", "sshd")


def wanted_args(module, lab, host, case):
    """Arguments that change the host, different for each case (so each run has work)."""
    if module == "mptcp_path_manager":
        return {"limits": {"subflows": 3 + case, "add_addr_accepted": 1 + case % 2},
                "endpoints": [{"address": lab.address(host, "eth1"), "dev": "eth1",
                               "flags": ["signal"] if case % 2 else ["subflow"]}]}
    return {"settings": {"enabled": 1, "add_addr_timeout": 70 + case}}


def wanted_seen(module, state, case):
    """Whether the state (from STATE) is what wanted_args asked, by the host's own tools."""
    if module == "mptcp_path_manager":
        limits = state.split("\n", 1)[0].split()
        return dict(zip(limits[0::2], limits[1::2])).get("subflows") == str(3 + case)
    return state.strip().splitlines()[-1] == str(70 + case) and "add_addr_timeout = %d" % (70 + case) in state


def state_of(lab, host, module):
    return lab.exec(host, "sh", "-ec", STATE[module]).stdout


def ansible(lab, host, module, args, *extra):
    """`ansible HOST -m mptcp.linux.MODULE` over the lab's SSH inventory, started, not waited for."""
    argv = [os.path.join(shared.BIN, "ansible"), "-i", lab.inventory, host, "-m", "mptcp.linux." + module,
            "-a", json.dumps(args)] + list(extra)
    env = shared._env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def result_of(proc, host):
    try:
        out, err = proc.communicate(timeout=RUN_BOUND)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("the run did not end in %d s (ServerAlive off?):\n%s\n%s" % (RUN_BOUND, out, err))
    try:
        return json.loads(out)["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result (rc=%s):\n%s\n%s" % (proc.returncode, out, err))


def run_module(lab, host, module, args):
    return result_of(ansible(lab, host, module, args), host)


def opened_by(lab, host, path):
    return set(lab.exec(host, "python3", "-c", OPENED_BY, path).stdout.split())


def lock_path(module):
    # The modules' HostLock: the network namespace for the path manager, the file's directory for sysctl.
    return "/proc/self/ns/net" if module == "mptcp_path_manager" else "/etc/sysctl.d"


def control_node(lab, host):
    """The control node's address on the management network (podman's gateway, .1)."""
    return lab.hostvars[host]["ansible_host"].rsplit(".", 1)[0] + ".1"


def cut(lab, host, how):
    if how == "link":
        lab.exec(host, "ip", "link", "set", "mgmt0", "down")
        # With mgmt0 down, the host's replies to the control node left through eth0's
        # default route (the control node has an address on every lab bridge) and the run
        # went on (seen). A management link that is cut carries nothing either way.
        lab.exec(host, "ip", "route", "add", "unreachable", control_node(lab, host) + "/32")
    else:
        # sshd's session processes run as the user they serve (sshd, or sshd-session on
        # OpenSSH 10): the connection, its ControlPersist master with it, ends at once.
        lab.exec(host, "pkill", "-KILL", "-u", "lab", "sshd")


def mend(lab, host, how):
    """The management link back, and SSH through it again (waited for with ssh itself)."""
    if how == "link":
        lab.exec(host, "ip", "route", "del", "unreachable", control_node(lab, host) + "/32")
        lab.exec(host, "ip", "link", "set", "mgmt0", "up")
        lab.exec(host, "nmcli", "connection", "up", "lab-mgmt0")
    deadline = time.monotonic() + 60
    while run_module(lab, host, "mptcp_info", {}).get("unreachable"):
        assert time.monotonic() < deadline, "%s: no SSH 60 s after the link came back" % host


@pytest.mark.parametrize("module", ["mptcp_path_manager", "mptcp_sysctl"])
@pytest.mark.parametrize("how", CUTS)
def test_connection_lost_while_the_module_changes_the_host(own_lab, module, how):
    host = "%s-deb12" % own_lab.name if how == "link" else "%s-deb13" % own_lab.name
    case = CUTS.index(how) * 2 + (module == "mptcp_sysctl")
    args = wanted_args(module, own_lab, host, case)
    before = state_of(own_lab, host, module)
    assert not wanted_seen(module, before, case), before
    path = lock_path(module)
    holder = subprocess.Popen(["podman", "exec", "-i", host, "timeout", "600", "python3", "-c", HOLD_LOCK, path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=shared._env())
    run = None
    try:
        holder.stdout.readline()
        already = opened_by(own_lab, host, path)  # the holder's, and NetworkManager's netns
        run = ansible(own_lab, host, module, args)
        deadline = time.monotonic() + 120  # a bound: over SSH a run reaches the lock in seconds
        while not opened_by(own_lab, host, path) - already:
            assert run.poll() is None, "the run ended before it reached the lock: %s" % (run.communicate(),)
            assert time.monotonic() < deadline, "the run never reached the lock"
            time.sleep(0.2)
        assert state_of(own_lab, host, module) == before, "the module changed the host before it had the lock"
        cut(own_lab, host, how)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    result = result_of(run, host)
    assert result.get("unreachable") is True, result
    print("%s, %s cut: %s" % (module, how, result.get("msg")))
    # The module on the host runs to its end without its connection: wait until it let go.
    deadline = time.monotonic() + 120
    while opened_by(own_lab, host, path) - already:
        assert time.monotonic() < deadline, "the module on %s never let go of its lock: %s" % (
            host, own_lab.exec(host, "ps", "-eo", "pid,ppid,user,stat,args").stdout)
        time.sleep(0.2)
    during = state_of(own_lab, host, module)
    if module == "mptcp_sysctl":
        # Nothing staged is left beside the file: the directory has what it had, and the file.
        listing = set(own_lab.exec(host, "ls", "-A", "/etc/sysctl.d").stdout.split())
        assert listing <= set(before.split()) | {"90-mptcp.conf"}, listing
    mend(own_lab, host, how)
    converged = run_module(own_lab, host, module, args)
    assert converged.get("failed") is not True and "unreachable" not in converged, converged
    after = state_of(own_lab, host, module)
    assert wanted_seen(module, after, case), after
    # Old or new, nothing in between (and the next run changes only what was left old).
    assert during in (before, after), (before, during, after)
    assert converged["changed"] is (during == before), (converged, during == before)
    again = run_module(own_lab, host, module, args)
    assert again["changed"] is False, again
    assert state_of(own_lab, host, module) == after


def add_user(lab, host, user, sudoers):
    """A user with the lab's key, and its sudoers line(s) (none: no sudo at all)."""
    script = ("id %(u)s >/dev/null 2>&1 || useradd -m -s /bin/bash %(u)s; "
              "install -d -m 0700 -o %(u)s -g %(u)s /home/%(u)s/.ssh; "
              "install -m 0600 -o %(u)s -g %(u)s /home/lab/.ssh/authorized_keys /home/%(u)s/.ssh/; "
              "echo '%(u)s:not-given-to-ansible' | chpasswd; rm -f /etc/sudoers.d/%(u)s") % {"u": user}
    if sudoers:
        script += "; printf '%%s\\n' %s > /etc/sudoers.d/%s; chmod 0440 /etc/sudoers.d/%s; visudo -cq" % (
            " ".join("'%s'" % line for line in sudoers), user, user)
    lab.exec(host, "sh", "-ec", script)


SUDO_FAULTS = {
    "password": ["h4pw ALL=(ALL) ALL"],
    "no-sudo": [],
    "requiretty": ["Defaults:h4tty requiretty", "h4tty ALL=(ALL) NOPASSWD: ALL"],
}
SUDO_USERS = {"password": "h4pw", "no-sudo": "h4nosudo", "requiretty": "h4tty"}


@pytest.mark.parametrize("fault", sorted(SUDO_FAULTS))
def test_sudo_that_does_not_let_the_user_in_changes_nothing(own_lab, fault):
    host = "%s-deb13" % own_lab.name
    user = SUDO_USERS[fault]
    add_user(own_lab, host, user, SUDO_FAULTS[fault])
    before = own_lab.exec(host, "sh", "-c", SNAPSHOT).stdout
    proc = own_lab.playbook(SITE, "--limit", host, "-e", LAB_VARS, "-e", "ansible_user=" + user)
    assert proc.returncode != 0, proc.stdout
    assert own_lab.exec(host, "sh", "-c", SNAPSHOT).stdout == before
    print("%s: %s" % (fault, [line for line in (proc.stdout + proc.stderr).splitlines()
                              if "sudo" in line.lower() or "escalation" in line.lower()]))
    recap = [line for line in proc.stdout.splitlines() if line.startswith(host + " ")][-1]
    # The first task that goes to the host fails (the ones before it run on the control node).
    assert "changed=0" in recap and ("failed=1" in recap or "unreachable=1" in recap), recap
    # sudo -n asks a user without sudo for a password first, so Ansible sees the same as
    # for a password not given (seen on sudo 1.9.13 and 1.9.16).
    reason = {"password": "Missing sudo password", "no-sudo": "Missing sudo password",
              "requiretty": "you must have a tty to run sudo"}[fault]
    assert reason in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def fleet3():
    """Three hosts: one fine, one whose management link is down (unreachable), one that
    fails (a kernel without MPTCP, as --without-mptcp shows it)."""
    name = "h4-fleet-%s" % secrets.token_hex(2)
    hosts = {"ok": "debian13:mptcp_clients", "gone": "debian12:mptcp_servers", "bad": "debian12:mptcp_servers"}
    specs = []
    for short, spec in hosts.items():
        specs += ["--host", "%s-%s=%s" % (name, short, spec)]
    try:
        subnets = shared.free_subnets(name, FLEET_SUBNETS)
        shared._lab(name, "up", *(specs + ["--without-mptcp", "%s-bad" % name, "--subnet", subnets[0],
                                           "--subnet", subnets[1], "--mgmt-subnet", subnets[2]]))
        yield shared.Lab(name, dict(("%s-%s" % (name, short), spec.split(":", maxsplit=1)[0]) for short, spec in hosts.items()))
    finally:
        shared._lab(name, "down", check=False)


def test_one_host_unreachable_and_one_failing_leave_the_others_converging(fleet3, tmp_path):
    ok, gone, bad = ("%s-%s" % (fleet3.name, short) for short in ("ok", "gone", "bad"))
    fleet3.exec(gone, "ip", "link", "set", "mgmt0", "down")
    before_gone = fleet3.exec(gone, "sh", "-c", SNAPSHOT).stdout
    proc = fleet3.playbook(SITE, "-e", LAB_VARS)
    assert proc.returncode != 0
    recaps = dict((line.split()[0], line) for line in proc.stdout.splitlines() if line.split()[:1] in ([ok], [gone], [bad])
                  and "ok=" in line)
    assert "unreachable=1" in recaps[gone] and "failed=0" in recaps[gone], recaps
    assert "failed=1" in recaps[bad], recaps
    assert "unreachable=0" in recaps[ok] and "failed=0" in recaps[ok] and "changed=0" not in recaps[ok], recaps
    eth1 = fleet3.address(ok, "eth1")
    assert [e.get("subflow") for e in json.loads(fleet3.exec(ok, "ip", "-j", "mptcp", "endpoint", "show").stdout)
            if e["address"] == eth1] == [True]
    assert fleet3.exec(ok, "ip", "mptcp", "limits", "show").stdout.split() == ["add_addr_accepted", "1", "subflows", "2"]
    assert fleet3.exec(gone, "sh", "-c", SNAPSHOT).stdout == before_gone
    drift = fleet3.playbook(DRIFT, "-e", LAB_VARS, MPTCP_DRIFT_REPORT_DIR=str(tmp_path),
                            ANSIBLE_CALLBACKS_ENABLED="mptcp.linux.drift_report")
    assert drift.returncode != 0
    report = json.loads((tmp_path / "drift.json").read_text())
    print(json.dumps(report["hosts"], indent=1))
    assert dict((h, r["status"]) for h, r in report["hosts"].items()) == {ok: "in_sync", gone: "unreachable",
                                                                          bad: "failed"}
    assert "ssh" in report["hosts"][gone]["error"]["msg"].lower(), report["hosts"][gone]
    assert "MPTCP is not available" in report["hosts"][bad]["error"]["msg"], report["hosts"][bad]
    html = (tmp_path / "drift.html").read_text()
    assert gone in html and bad in html


# The host's nmcli for the test below: a profile change waits, as a hung NetworkManager
# would, and says whose child it is (the module's process); everything else is nmcli.
# sudo's secure_path puts /usr/local/sbin before /usr/bin, where the module looks first.
HUNG_NMCLI = """#!/bin/sh
case " $* " in
  *" modify "*) echo $PPID > /run/h4-nmcli-modify.tmp && mv /run/h4-nmcli-modify.tmp /run/h4-nmcli-modify
                exec sleep 600 ;;
esac
exec /usr/bin/nmcli "$@"
"""
PROFILE_FLAGS = "for p in lab-eth0 lab-eth1; do nmcli -g connection.mptcp-flags connection show \"$p\"; done"
ROLE_DIRS = ("/etc/sysctl.d", "/etc/systemd/system")
CONF = "/etc/sysctl.d/90-mptcp.conf"


def recap_of(stdout, host):
    return [line for line in stdout.splitlines() if line.startswith(host + " ") and "ok=" in line][-1]


def listing(lab, host):
    return dict((path, sorted(lab.exec(host, "ls", "-A", path).stdout.split())) for path in ROLE_DIRS)


def test_a_role_run_killed_halfway_leaves_whole_files_and_the_next_run_converges(own_lab):
    """The role's one module call killed (SIGKILL, as the OOM killer or a reboot would) after
    its sysctl part changed the host and while its NetworkManager part waits on nmcli:
    no undo runs, so the host is half converged - the sysctl file whole and new, the
    profiles' flags old, no temporary file beside either, the lock free - and the next
    run converges it (changed) and the one after changes nothing."""
    host = "%s-deb12" % own_lab.name
    absent = own_lab.playbook(SITE, "--limit", host, "-e", LAB_VARS, "-e", "mptcp_state=absent")
    assert absent.returncode == 0, absent.stdout + absent.stderr
    flags_before, files_before = own_lab.exec(host, "sh", "-c", PROFILE_FLAGS).stdout, listing(own_lab, host)
    conf_before = own_lab.exec(host, "cat", CONF).stdout  # absent persists net.mptcp.enabled = 0
    subprocess.run(["podman", "exec", "-i", host, "sh", "-ec", "cat > /usr/local/sbin/nmcli; chmod 0755 /usr/local/sbin/nmcli; "
                    "rm -f /run/h4-nmcli-modify"], input=HUNG_NMCLI, text=True, check=True, env=shared._env())
    try:
        argv = [os.path.join(shared.BIN, "ansible-playbook"), "-i", own_lab.inventory, SITE, "--limit", host, "-e", LAB_VARS]
        run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=shared._env())
        deadline = time.monotonic() + RUN_BOUND
        while own_lab.exec(host, "test", "-e", "/run/h4-nmcli-modify", check=False).returncode:
            assert run.poll() is None, "the run ended before it changed a profile: %s" % (run.communicate(),)
            assert time.monotonic() < deadline, "the run never reached nmcli connection modify"
            time.sleep(0.2)
        module = own_lab.exec(host, "cat", "/run/h4-nmcli-modify").stdout.strip()
        assert "python" in own_lab.exec(host, "ps", "-o", "args=", "-p", module).stdout
        own_lab.exec(host, "kill", "-KILL", module)
        out, _err = run.communicate(timeout=RUN_BOUND)
    finally:
        own_lab.exec(host, "sh", "-c", "rm -f /usr/local/sbin/nmcli /run/h4-nmcli-modify; pkill -KILL -x sleep", check=False)
    assert run.returncode != 0 and "failed=1" in recap_of(out, host), out
    # Halfway: the sysctl part's values and file are new, the profiles' flags as they were.
    assert own_lab.exec(host, "cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "60"
    conf_during = own_lab.exec(host, "cat", CONF).stdout
    assert conf_during != conf_before and "add_addr_timeout = 60" in conf_during, conf_during
    assert own_lab.exec(host, "sh", "-c", PROFILE_FLAGS).stdout == flags_before
    # The same files as before: no temporary file left beside them by the kill.
    assert listing(own_lab, host) == files_before
    converge = own_lab.playbook(SITE, "--limit", host, "-e", LAB_VARS)
    assert converge.returncode == 0, converge.stdout + converge.stderr
    assert "changed=0" not in recap_of(converge.stdout, host), converge.stdout
    assert own_lab.exec(host, "sh", "-c", PROFILE_FLAGS).stdout != flags_before
    # The file the killed run wrote was the whole new one: the converging run's is the same.
    assert own_lab.exec(host, "cat", CONF).stdout == conf_during
    again = own_lab.playbook(SITE, "--limit", host, "-e", LAB_VARS)
    assert again.returncode == 0 and "changed=0" in recap_of(again.stdout, host), again.stdout
