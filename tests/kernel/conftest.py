"""Fixtures for tests against the real kernel: a fresh network namespace per test, and a
way to run the collection's modules through Ansible itself (argument handling and return
values tested for real), inside or against that namespace."""

import ast
import hashlib
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE = os.path.join(REPO, ".venv", "bin", "ansible")

# Every `ansible` these tests start runs the modules of this checkout (as `make kernel`
# does), never a copy of mptcp.linux installed under ~/.ansible/collections, which may be
# of another version (and may be replaced while the tests run).
if "ANSIBLE_COLLECTIONS_PATH" not in os.environ:
    _checkout = os.path.join(REPO, ".tmp", "collections", "ansible_collections", "mptcp", "linux")
    if not os.path.lexists(_checkout):
        os.makedirs(os.path.dirname(_checkout), exist_ok=True)
        os.symlink(REPO, _checkout)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".tmp", "collections")


def _run(argv, check=True):
    result = subprocess.run(argv, capture_output=True, text=True, check=False,
                            env=dict(os.environ, LC_ALL="C"))
    if check and result.returncode != 0:
        raise AssertionError("%s: rc=%d %s" % (argv, result.returncode, result.stderr))
    return result


def ip_runner(argv):
    """run(argv) -> (rc, stdout, stderr), as the collection's iproute2 backend expects it,
    for tests and benchmarks that use the module_utils directly (modules use run_command)."""
    result = _run(argv, check=False)
    return result.returncode, result.stdout, result.stderr


class Netns:
    """A named network namespace of this test, with helpers that use `ip -n` as oracle."""

    # For tests that hand the collection's iproute2 backend a runner (`from conftest
    # import` is ambiguous once pytest has several conftest.py).
    ip_runner = staticmethod(ip_runner)

    def __init__(self, name):
        self.name = name

    def ip(self, *args, check=True):
        return _run(["ip", "-n", self.name] + list(args), check=check).stdout

    def ip_json(self, *args):
        out = self.ip("-j", *args)
        return json.loads(out) if out.strip() else []

    def exec(self, *argv, check=True):
        return _run(["ip", "netns", "exec", self.name] + list(argv), check=check)

    def add_interface(self, name, *addresses):
        """A veth pair inside the namespace (this kernel has no dummy links); `name` is up
        and carries the addresses."""
        self.ip("link", "add", name, "type", "veth", "peer", "name", name + "p")
        for address in addresses:
            self.ip("address", "add", address, "dev", name)
        self.ip("link", "set", name, "up")
        self.ip("link", "set", name + "p", "up")
        return name

    def link_to(self, other, name, other_name, address=None, other_address=None):
        """A veth pair from this namespace (`name`, with `address`) to `other`
        (`other_name`, with `other_address`), both ends up."""
        _run(["ip", "link", "add", name, "netns", self.name, "type", "veth",
              "peer", "name", other_name, "netns", other.name])
        for ns, link, address_ in ((self, name, address), (other, other_name, other_address)):
            if address_:
                ns.ip("address", "add", address_, "dev", link)
            ns.ip("link", "set", link, "up")

    def interpreter(self, directory):
        """A Python interpreter (a script in `directory`) that runs inside the namespace:
        an inventory host's ansible_python_interpreter, so that one playbook can act in
        several namespaces (async tasks too) with ansible_connection=local."""
        path = os.path.join(directory, "python-" + self.name)
        with open(path, "w") as handle:
            handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (self.name, sys.executable))
        os.chmod(path, 0o755)
        return path

    def pids(self):
        """The processes running in the namespace (`ip netns pids`)."""
        return [int(pid) for pid in _run(["ip", "netns", "pids", self.name]).stdout.split()]

    def endpoints(self):
        return self.ip_json("mptcp", "endpoint", "show")

    def limits(self):
        """`ip mptcp limits show` has no JSON output (iproute2 6.1 and 6.15): parse text."""
        words = self.ip("mptcp", "limits", "show").split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


@pytest.fixture
def make_netns():
    """make_netns() -> another fresh namespace (a Netns) at the kernel's defaults; every
    one made is removed after the test however it ends."""
    made = []

    def make():
        name = "mptcp-test-%s" % secrets.token_hex(4)
        _run(["ip", "netns", "add", name])
        made.append(name)
        ns = Netns(name)
        ns.ip("link", "set", "lo", "up")
        return ns
    try:
        yield make
    finally:
        for name in made:
            _run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def netns(make_netns):
    """A fresh namespace at the kernel's defaults, removed after the test however it ends."""
    return make_netns()


# Runs argv lists (json in argv[1]), then the program after "--", then more argv lists
# (json in argv[2]) with their output on stderr; exits with the program's status.
_IN_PRIVATE_MOUNTS = """
import json, subprocess, sys
for argv in json.loads(sys.argv[1]):
    subprocess.run(argv, check=True)
rc = subprocess.run(sys.argv[4:]).returncode
for argv in json.loads(sys.argv[2]):
    subprocess.run(argv, check=True, stdout=sys.stderr)
sys.exit(rc)
"""


def private_mounts_argv(before, after=()):
    """An argv prefix (run_module's `wrap`) running the program in a mount namespace of its
    own, after the commands `before` (argv lists like ["mount", "-o", "remount,bind,ro",
    "/proc/sys"]) and followed by the commands `after` (to copy out what a test checks).
    The host's mounts are never changed."""
    return ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c",
            _IN_PRIVATE_MOUNTS, json.dumps(list(before)), json.dumps(list(after)), "--"]


def _module_argv(module, args, check_mode=False, diff=True, inside_netns=None, wrap=None):
    argv = [ANSIBLE, "localhost", "-c", "local", "-m", "mptcp.linux." + module,
            "-a", json.dumps(args)]
    if check_mode:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if wrap:
        argv = list(wrap) + argv
    if inside_netns:
        argv = ["ip", "netns", "exec", inside_netns] + argv
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               LC_ALL="C.UTF-8")
    return argv, env


def _module_result(argv, stdout, stderr):
    try:
        report = json.loads(stdout)
        return report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result from %s:\n%s\n%s" % (argv, stdout, stderr))


def run_module(module, args, check_mode=False, diff=True, inside_netns=None, wrap=None):
    """Run mptcp.linux.MODULE through `ansible localhost` and return its result dict.

    inside_netns: run the whole module process in that namespace (for /proc/sys/net,
    which belongs to the namespace of the process reading it).
    wrap: an argv prefix to run `ansible` under (inside the namespace), e.g. from the
    private_mounts fixture."""
    argv, env = _module_argv(module, args, check_mode, diff, inside_netns, wrap)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return _module_result(argv, proc.stdout, proc.stderr)


class RunningModule:
    """A module run started in the background (start_module), in a process group of its
    own; result() waits for it, kill() ends ansible and the module process it started."""

    def __init__(self, argv, env):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)

    def result(self, timeout=120):
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            stdout, stderr = self.proc.communicate()
            raise AssertionError("%s still ran after %s s:\n%s\n%s" % (self.argv, timeout, stdout, stderr))
        return _module_result(self.argv, stdout, stderr)

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self):
        if self.proc.poll() is None:
            self._kill_group()
            self.proc.communicate()


def start_module(module, args, check_mode=False, diff=True, inside_netns=None, wrap=None):
    """run_module, in the background: returns a RunningModule at once (e.g. a server
    that a client run then talks to). Kill what you start (the fixture does)."""
    argv, env = _module_argv(module, args, check_mode, diff, inside_netns, wrap)
    return RunningModule(argv, env)


@pytest.fixture
def module_starter():
    """start_module(...) -> a RunningModule; every one started is killed after the test
    if it still runs."""
    started = []

    def start(*args, **kwargs):
        running = start_module(*args, **kwargs)
        started.append(running)
        return running
    try:
        yield start
    finally:
        for running in started:
            running.kill()


@pytest.fixture
def module_runner():
    return run_module


@pytest.fixture
def examples_runner():
    return run_examples


def run_examples(module, substitutions=(), inside_netns=None):
    """Run the EXAMPLES of mptcp.linux.MODULE, as they are written, as the tasks of one
    play on localhost; returns the finished ansible-playbook process.

    substitutions: (old, new) text replacements made first, e.g. a namespace name of the
    example with one the test created. inside_netns: as for run_module."""
    with open(os.path.join(REPO, "plugins", "modules", module + ".py")) as source:
        tree = ast.parse(source.read())
    examples = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", None) == "EXAMPLES")
    for old, new in substitutions:
        examples = examples.replace(old, new)
    play = [{"name": "EXAMPLES of " + module, "hosts": "localhost", "connection": "local",
             "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": yaml.safe_load(examples)}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        yaml.safe_dump(play, playbook)
    argv = [ANSIBLE + "-playbook", "-i", "localhost,", playbook.name]
    if inside_netns:
        argv = ["ip", "netns", "exec", inside_netns] + argv
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               LC_ALL="C.UTF-8")
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    finally:
        os.unlink(playbook.name)


@pytest.fixture
def private_mounts():
    """private_mounts(before, after=()) -> an argv prefix for run_module's `wrap`."""
    return private_mounts_argv


# --- the machine these tests run on is left as it was ---------------------------------------
# Kernel tests work in namespaces and temporary directories only. This guard snapshots what
# a test reaching outside them would change (the files the role and modules write by
# default, and the MPTCP state of the namespace the session runs in, which a module run
# without netns changes) before the first kernel test and after the last, and fails the
# session naming each difference.
GUARDED_TREES = ("/etc/systemd", "/etc/sysctl.d", "/etc/NetworkManager")


def _file_entry(path):
    """What the guard compares of one path: type, mode, owner, and a regular file's size
    and sha256 or a symlink's target."""
    info = os.lstat(path)
    entry = (stat.filemode(info.st_mode), info.st_uid, info.st_gid)
    if stat.S_ISLNK(info.st_mode):
        return entry + ("->", os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
        return entry + (info.st_size, digest.hexdigest())
    return entry


def _tree_state(root):
    """{path: entry} of every path under root (root itself included); absent: {root: "absent"}."""
    if not os.path.lexists(root):
        return {root: "absent"}
    state = {root: _file_entry(root)}
    for directory, dirs, files in os.walk(root, onerror=lambda exc: state.update({exc.filename: repr(exc)})):
        for name in dirs + files:
            path = os.path.join(directory, name)
            try:
                state[path] = _file_entry(path)
            except OSError as exc:
                state[path] = "unreadable: %s" % exc.strerror
    return state


def _mptcp_state():
    """The MPTCP state of the namespace the session runs in, read with the kernel's files and `ip`."""
    state = {}
    directory = "/proc/sys/net/mptcp"
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
        with open(os.path.join(directory, name)) as handle:
            state[os.path.join(directory, name)] = handle.read().strip()
    for argv in (["ip", "mptcp", "limits", "show"], ["ip", "-j", "mptcp", "endpoint", "show"]):
        result = _run(argv, check=False)
        state[" ".join(argv)] = (result.returncode, result.stdout.strip(), result.stderr.strip())
    return state


def machine_state():
    state = {}
    for root in GUARDED_TREES:
        state.update(_tree_state(root))
    state.update(_mptcp_state())
    return state


def machine_changes(before, after):
    """One line per path or value that differs: what it was and what it is now."""
    missing = "(not there)"
    return ["%s: %s -> %s" % (key, before.get(key, missing), after.get(key, missing))
            for key in sorted(set(before) | set(after)) if before.get(key, missing) != after.get(key, missing)]


@pytest.fixture(scope="session", autouse=True)
def machine_left_alone():
    """Fails the session (an error at the teardown of its last test) if the kernel tests
    changed this machine's guarded files or its own MPTCP state."""
    before = machine_state()
    yield
    changes = machine_changes(before, machine_state())
    if changes:
        pytest.fail("the kernel tests changed the machine they run on (outside namespaces and "
                    "temporary directories):\n  " + "\n  ".join(changes), pytrace=False)
