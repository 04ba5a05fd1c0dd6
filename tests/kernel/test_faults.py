"""Faults the path-manager and sysctl modules meet on real hosts, each with the behaviour
their documentation gives, against the real kernel in fresh namespaces:

- pyroute2 missing or too old (hidden or replaced through PYTHONPATH): iproute2 does the
  same work with the same result;
- an `ip` without `ip mptcp` (iproute2 5.7, a stand-in earlier on PATH): refused before
  anything, or pyroute2 does the work;
- an interface removed between the check and the change: the batch is undone;
- runs at once on one namespace or one file: they take turns, nothing is lost, with the
  overlap made certain by the test holding the lock itself; check mode shares the lock
  with readers and waits for a writer.

The kernel refusing a step mid-batch is test_mptcp_endpoint.py's
test_a_refused_step_undoes_the_steps_before_it (and the planner's properties); /etc
read-only or full is test_mptcp_sysctl.py's."""

import fcntl
import json
import os
import shutil
import sys
import time

import pytest

from backend_faults import RemovesALink
from this_ip import IP_SIDES, on_side

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_endpoints
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import validate_endpoints

IP = shutil.which("ip")
# What the path manager is asked in the twin runs below: limits, then endpoints with a dev,
# an id, a port and an exclusive list, then an in-place change.
STEPS = [
    ("mptcp_limits", {"subflows": 4, "add_addr_accepted": 2}),
    ("mptcp_endpoint", {"exclusive": True, "endpoints": [
        {"address": "198.18.1.1", "dev": "e1", "flags": ["subflow"]},
        {"address": "198.18.2.1", "id": 7, "port": 8080, "flags": ["signal"]}]}),
    ("mptcp_endpoint", {"address": "198.18.1.1", "flags": ["subflow", "backup"]}),
]
# Stand-ins for pyroute2, found first through PYTHONPATH.
PYROUTE2_STANDINS = {
    "missing": {"pyroute2/__init__.py": "raise ImportError('No module named pyroute2 (hidden by the test)')\n"},
    # 0.5.18: pyroute2 without its generic netlink MPTCP module.
    "too old": {"pyroute2/__init__.py": "__version__ = '0.5.18'\n",
                "pyroute2/netlink/__init__.py": "NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300\n",
                "pyroute2/netlink/exceptions.py": "class NetlinkError(Exception):\n    pass\n",
                "pyroute2/netlink/generic/__init__.py": ""},
}
# iproute2 5.7 as the modules see it: its version, no `ip mptcp`; anything else is the real ip.
OLD_IP = """#!%s
import os, sys
args = sys.argv[1:]
if args == ["-V"]:
    print("ip utility, iproute2-ss200602")
    sys.exit(0)
if "mptcp" in args:
    sys.stderr.write('Object "mptcp" is unknown, try "ip help".\\n')
    sys.exit(255)
os.execv(%r, [%r] + args)
"""


@pytest.fixture
def make_host(make_netns):
    """make_host() -> a fresh namespace with e1 (198.18.1.1/24) and e2 (198.18.2.1/24)."""
    def make():
        ns = make_netns()
        ns.add_interface("e1", "198.18.1.1/24")
        ns.add_interface("e2", "198.18.2.1/24")
        return ns
    return make


def kernel_state(ns):
    return ns.limits(), ns.endpoints()


def comparable(result, ns):
    """A module's result without what differs between twins: the backend (chosen, and
    asked for in the arguments) and the name of the namespace."""
    result = json.loads(json.dumps(dict((k, v) for k, v in result.items() if k != "backend")).replace(ns.name, "NS"))
    result.get("invocation", {}).get("module_args", {}).pop("backend", None)
    return result


def standin(tmp_path, name):
    for path, text in PYROUTE2_STANDINS[name].items():
        target = tmp_path / "standin" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return ["env", "PYTHONPATH=%s" % (tmp_path / "standin")]


@pytest.mark.parametrize("name", sorted(PYROUTE2_STANDINS))
def test_without_a_usable_pyroute2_iproute2_does_the_same_work(make_host, module_runner, tmp_path, name):
    """backend=auto without pyroute2, against a twin run with backend=pyroute2."""
    wrap = standin(tmp_path, name)
    without, twin = make_host(), make_host()
    for module, args in STEPS:
        result = module_runner(module, dict(args, netns=without.name), wrap=wrap)
        expected = module_runner(module, dict(args, netns=twin.name, backend="pyroute2"))
        assert (result["backend"], expected["backend"]) == ("iproute2", "pyroute2"), result
        assert comparable(result, without) == comparable(expected, twin)
    assert kernel_state(without) == kernel_state(twin)
    info = module_runner("mptcp_info", {"netns": without.name, "gather_subset": ["tools", "endpoints"]}, wrap=wrap)
    assert info["ansible_facts"]["mptcp"]["tools"]["pyroute2"] is None
    assert info["ansible_facts"]["mptcp"]["endpoints"] == expected["endpoints"]
    refused = module_runner("mptcp_limits", {"netns": without.name, "backend": "pyroute2", "subflows": 1}, wrap=wrap)
    assert refused["failed"] is True and refused["msg"].startswith(
        "backend=pyroute2: pyroute2 with MPTCP support (0.5.19 or later) cannot be imported: ")
    assert refused["msg"].endswith("Install python3-pyroute2 on the target or use backend=auto or iproute2")
    assert kernel_state(without) == kernel_state(twin)


@IP_SIDES
@pytest.mark.parametrize("name", sorted(PYROUTE2_STANDINS))
def test_without_pyroute2_a_flag_ip_lacks_is_refused_and_one_it_has_is_set(
        make_host, module_runner, tmp_path, name, ip_knows_laminar):
    """auto without pyroute2 has only ip left: where ip lacks laminar it says so and
    changes nothing; where ip has it, the endpoint is set through ip."""
    on_side(ip_knows_laminar)
    wrap = standin(tmp_path, name)
    host = make_host()
    before = kernel_state(host)
    laminar = {"netns": host.name, "address": "198.18.2.1", "id": 9, "flags": ["subflow", "laminar"]}
    result = module_runner("mptcp_endpoint", laminar, wrap=wrap)
    assert result["backend"] == "iproute2", result
    if ip_knows_laminar:
        assert result.get("failed") is not True and result["changed"] is True, result
        assert [(e["id"], e["address"], sorted(e["flags"])) for e in host.endpoints()] == [
            (9, "198.18.2.1", ["laminar", "subflow"])]
    else:
        assert result["failed"] is True, result
        assert "needs flag laminar, which this iproute2" in result["msg"] and "backend=pyroute2" in result["msg"]
        assert kernel_state(host) == before


@pytest.fixture
def old_ip(tmp_path):
    """A PATH whose first `ip` answers like iproute2 5.7."""
    directory = tmp_path / "old-iproute2"
    directory.mkdir()
    script = directory / "ip"
    script.write_text(OLD_IP % (sys.executable, IP, IP))
    script.chmod(0o755)
    return ["env", "PATH=%s:%s" % (directory, os.environ["PATH"])]


def test_an_ip_without_mptcp_is_refused_before_anything(make_host, module_runner, old_ip):
    host = make_host()
    before = kernel_state(host)
    for module, args in STEPS[:2]:
        result = module_runner(module, dict(args, netns=host.name, backend="iproute2"), wrap=old_ip)
        assert result["failed"] is True
        assert result["msg"] == ("ip utility, iproute2-ss200602 has no `ip mptcp` (it came in iproute2 5.8): "
                                 "use backend=pyroute2 or install a newer iproute2")
    assert kernel_state(host) == before
    tools = module_runner("mptcp_info", {"gather_subset": ["tools"]}, wrap=old_ip)["ansible_facts"]["mptcp"]["tools"]
    assert tools["iproute2"]["version"] == "ss200602" and tools["iproute2"]["ip_mptcp"] is False


def test_with_an_ip_without_mptcp_auto_uses_pyroute2(make_host, module_runner, old_ip):
    host, twin = make_host(), make_host()
    for module, args in STEPS:
        result = module_runner(module, dict(args, netns=host.name), wrap=old_ip)
        assert result["backend"] == "pyroute2" and "failed" not in result, result
        module_runner(module, dict(args, netns=twin.name, backend="iproute2"))
    assert kernel_state(host) == kernel_state(twin)


@pytest.mark.parametrize("backend", ["pyroute2", "iproute2"])
def test_an_interface_removed_between_the_check_and_the_change_undoes_the_batch(make_host, backend):
    host = make_host()
    host.ip("mptcp", "endpoint", "add", "198.18.1.1", "id", "1", "dev", "e1", "subflow")
    host.ip("mptcp", "endpoint", "add", "198.18.9.9", "id", "2", "signal")
    before = host.endpoints()
    wanted = validate_endpoints([{"address": "198.18.1.1", "flags": ["subflow", "backup"]},
                                 {"address": "198.18.2.1", "id": 3, "dev": "e2", "flags": ["subflow"]}], "present")
    opened = open_backend(backend, host.name, host.ip_runner, IP)
    try:
        with pytest.raises(MptcpError) as caught:
            ensure_endpoints(RemovesALink(opened, host, "e2"), wanted, "present", True, False, host.name)
    finally:
        opened.close()
    message = str(caught.value)
    assert "adding endpoint 198.18.2.1 id 3 subflow dev e2 failed" in message, message
    assert "e2" in message.split("failed", 1)[1], message
    assert "The 2 step(s) already done were undone: delete endpoint 198.18.9.9 id 2 signal: not listed " \
           "(exclusive); change endpoint 198.18.1.1 id 1 subflow dev e1 in place" in message, message
    assert host.endpoints() == before


# --- runs at once take turns ---------------------------------------------------------------
# The overlap is made certain, not hoped for: the test itself holds the lock the module must
# take (flock on the same file: the namespace's nsfs inode, the directory of the sysctl
# file), starts the runs, waits until each has that file open (it is at the lock), and
# watches for WINDOW that none finishes and the state stays as it was; then it lets go and
# the runs take their turns. The holder is shared where a run must wait (an exclusive taker
# waits for it; a run that locks shared, or not at all, goes on and is caught changing the
# state), exclusive where a check-mode run must wait for a writer.
WINDOW = 5.0  # seconds after every run is at the lock: once past the lock, a run changes the state in milliseconds
# A bound for a check-mode run that must not wait (alone it takes a second or two); one
# that waits for the holder is stopped there, not at the lock's own 300 s.
CHECK_MODE_BOUND = 60


def descendants(root):
    """root and every process below it, from each process's parent in /proc/PID/stat."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as handle:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
        children.setdefault(parent, []).append(int(pid))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


class HeldLock:
    """flock(2) on `path` in this process, as a concurrent run of the module would hold it."""

    def __init__(self, path, shared):
        self.path = str(path)
        self.fd = os.open(self.path, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        info = os.fstat(self.fd)
        self.key = (info.st_dev, info.st_ino)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def openers(self, running):
        """The processes of `running` (it and its descendants: ansible-core 2.19 and later
        start the module in a session of its own) that have the locked file open."""
        found = set()
        for pid in descendants(running.proc.pid):
            try:
                for fd in os.listdir("/proc/%s/fd" % pid):
                    info = os.stat("/proc/%s/fd/%s" % (pid, fd))
                    if (info.st_dev, info.st_ino) == self.key:
                        found.add(int(pid))
            except OSError:  # the process ended meanwhile
                continue
        return found


def held_then_released(lock, runs, state):
    """With `lock` held: every run reaches the lock (has its file open) and, for WINDOW
    after, none finishes and state() stays as it was. Then the lock is let go; returns the
    runs' results."""
    before = state()

    def no_run_got_past_the_lock(when):
        finished = [running.argv for running in runs if running.proc.poll() is not None]
        assert finished == [], "%s: runs finished while %s was held: %s" % (when, lock.path, finished)
        assert state() == before, "%s: the state changed while %s was held" % (when, lock.path)

    deadline = time.monotonic() + 120  # a bound, not a measurement: a run reaches its lock in seconds
    while not all(lock.openers(running) for running in runs):
        no_run_got_past_the_lock("before every run was at the lock")
        assert time.monotonic() < deadline, "runs never opened %s" % lock.path
        time.sleep(0.05)
    watched_until = time.monotonic() + WINDOW
    while time.monotonic() < watched_until:
        no_run_got_past_the_lock("with every run at the lock")
        time.sleep(0.1)
    lock.release()
    return [running.result() for running in runs]


@pytest.fixture
def held_lock():
    """held_lock(path, shared) -> a HeldLock, released after the test however it ends."""
    held = []

    def hold(path, shared):
        held.append(HeldLock(path, shared))
        return held[-1]
    try:
        yield hold
    finally:
        for lock in held:
            lock.release()


LIMITS = {"subflows": 4, "add_addr_accepted": 2}
ENDPOINTS = {"exclusive": True, "endpoints": [
    {"address": "198.18.1.1", "flags": ["subflow", "backup"]},
    {"address": "198.18.2.1", "dev": "e2", "flags": ["signal"]},
    {"address": "198.18.2.2", "flags": ["subflow"]}]}
PATH_MANAGER = dict(ENDPOINTS, limits=LIMITS)
# The three modules that share the path manager's lock, both backends: their runs at once.
AT_ONCE = [("mptcp_path_manager", dict(PATH_MANAGER, backend="pyroute2")),
           ("mptcp_endpoint", dict(ENDPOINTS, backend="iproute2")),
           ("mptcp_limits", dict(LIMITS, backend="pyroute2")),
           ("mptcp_path_manager", dict(PATH_MANAGER, backend="iproute2"))]


def path_manager_host(make_host):
    host = make_host()
    host.ip("mptcp", "endpoint", "add", "198.18.1.1", "id", "1", "dev", "e1", "subflow")
    host.ip("mptcp", "endpoint", "add", "198.18.9.9", "id", "2", "signal")
    return host


@pytest.mark.parametrize("where", ["netns option", "run inside the namespace"])
def test_runs_at_once_on_one_namespace_take_turns(make_host, module_runner, module_starter, held_lock, where):
    """Four runs of mptcp_path_manager, mptcp_endpoint and mptcp_limits that would set the
    limits and delete, change and add endpoints, all waiting while another run holds the
    namespace (a reader: shared): none changes anything until it lets go; then each step is
    done once, by one of them, and none fails (unlocked, a later one met EEXIST and undid
    steps of the first). With the namespace named (netns) the lock is /run/netns/NAME, from
    inside it /proc/self/ns/net: the same nsfs inode either way."""
    host = path_manager_host(make_host)
    steps = module_runner("mptcp_path_manager", dict(PATH_MANAGER, netns=host.name), check_mode=True)["changes"]
    lock = held_lock("/run/netns/" + host.name, shared=True)
    if where == "netns option":
        runs = [module_starter(module, dict(args, netns=host.name)) for module, args in AT_ONCE]
    else:
        runs = [module_starter(module, args, inside_netns=host.name) for module, args in AT_ONCE]
    results = held_then_released(lock, runs, lambda: kernel_state(host))
    assert [r.get("failed", False) for r in results] == [False] * 4, results
    assert sorted(step for r in results for step in r["changes"]) == sorted(steps), results
    assert len(steps) == 5 and any(r["changed"] for r in results), steps  # limits; delete, change, add, add
    assert host.limits() == {"add_addr_accepted": 2, "subflows": 4}
    found = dict((e["address"], (e.get("dev"), sorted(k for k, v in e.items() if v is True))) for e in host.endpoints())
    assert found == {"198.18.1.1": ("e1", ["backup", "subflow"]), "198.18.2.1": ("e2", ["signal"]),
                     "198.18.2.2": (None, ["subflow"])}


def test_a_check_mode_run_on_a_namespace_waits_for_a_writer(make_host, module_starter, held_lock):
    """A check-mode run reads only after a run changing the namespace is done (it holds
    the lock exclusively)."""
    host = path_manager_host(make_host)
    before = kernel_state(host)
    lock = held_lock("/run/netns/" + host.name, shared=False)
    run = module_starter("mptcp_path_manager", dict(PATH_MANAGER, netns=host.name), check_mode=True)
    result, = held_then_released(lock, [run], lambda: kernel_state(host))
    assert (result.get("failed", False), result["changed"]) == (False, True), result
    assert kernel_state(host) == before


def test_a_check_mode_run_on_a_namespace_does_not_wait_for_a_reader(make_host, module_starter, held_lock):
    """Check mode only reads, so it shares the lock: another reader holding it does not
    hold it up (locked exclusively, it would wait for the holder)."""
    host = path_manager_host(make_host)
    before = kernel_state(host)
    held_lock("/run/netns/" + host.name, shared=True)
    result = module_starter("mptcp_path_manager", dict(PATH_MANAGER, netns=host.name), check_mode=True).result(
        timeout=CHECK_MODE_BOUND)
    assert (result.get("failed", False), result["changed"]) == (False, True), result
    assert result["diff"]["after"] != result["diff"]["before"]
    assert kernel_state(host) == before


SYSCTL_KEYS = ("add_addr_timeout", "close_timeout", "stale_loss_cnt", "blackhole_timeout")


def sysctl_state(netns, directory):
    """The files in the directory with their text, and the namespace's values of SYSCTL_KEYS."""
    files = dict((name, (directory / name).read_text()) for name in sorted(os.listdir(str(directory))))
    values = netns.exec("cat", *("/proc/sys/net/mptcp/" + key for key in SYSCTL_KEYS)).stdout.split()
    return files, values


def test_runs_at_once_on_one_sysctl_file_lose_no_key(netns, module_starter, held_lock, tmp_path):
    """Four runs each setting another key in the same file, all waiting while another run
    holds the file's directory (a reader: shared): none writes until it lets go; then the
    file ends with all four keys (unlocked, each rewrote it from the copy it had read, and
    keys were lost)."""
    directory = tmp_path / "sysctl.d"
    directory.mkdir()
    conf = directory / "90-mptcp.conf"
    lock = held_lock(directory, shared=True)
    settings = [{"add_addr_timeout": 61}, {"close_timeout": 62}, {"stale_loss_cnt": 63}, {"blackhole_timeout": 64}]
    runs = [module_starter("mptcp_sysctl", {"settings": setting, "path": str(conf)}, inside_netns=netns.name)
            for setting in settings]
    results = held_then_released(lock, runs, lambda: sysctl_state(netns, directory))
    assert [r.get("failed", False) for r in results] == [False] * 4, results
    assert [r["changed"] for r in results] == [True] * 4
    assert conf.read_text().splitlines()[1:] == [
        "net.mptcp.add_addr_timeout = 61", "net.mptcp.blackhole_timeout = 64",
        "net.mptcp.close_timeout = 62", "net.mptcp.stale_loss_cnt = 63"]
    assert sorted(os.listdir(str(directory))) == ["90-mptcp.conf"]
    assert sysctl_state(netns, directory)[1] == ["61", "62", "63", "64"]


def test_a_check_mode_run_on_a_sysctl_file_waits_for_a_writer(netns, module_starter, held_lock, tmp_path):
    directory = tmp_path / "sysctl.d"
    directory.mkdir()
    conf = directory / "90-mptcp.conf"
    before = sysctl_state(netns, directory)
    lock = held_lock(directory, shared=False)
    run = module_starter("mptcp_sysctl", {"settings": {"close_timeout": 62}, "path": str(conf)},
                         check_mode=True, inside_netns=netns.name)
    result, = held_then_released(lock, [run], lambda: sysctl_state(netns, directory))
    assert (result.get("failed", False), result["changed"]) == (False, True), result
    assert sysctl_state(netns, directory) == before


def test_a_check_mode_run_on_a_sysctl_file_does_not_wait_for_a_reader(netns, module_starter, held_lock, tmp_path):
    directory = tmp_path / "sysctl.d"
    directory.mkdir()
    conf = directory / "90-mptcp.conf"
    before = sysctl_state(netns, directory)
    held_lock(directory, shared=True)
    result = module_starter("mptcp_sysctl", {"settings": {"close_timeout": 62}, "path": str(conf)},
                            check_mode=True, inside_netns=netns.name).result(timeout=CHECK_MODE_BOUND)
    assert (result.get("failed", False), result["changed"]) == (False, True), result
    assert [(d["before"], d["after"]) for d in result["diff"]] == [
        ({"net.mptcp.close_timeout": 60}, {"net.mptcp.close_timeout": 62}),
        ("", "# Managed by Ansible (mptcp.linux.mptcp_sysctl): edits here are overwritten.\n"
             "net.mptcp.close_timeout = 62\n")]
    assert sysctl_state(netns, directory) == before
