"""mptcp-rejoin (plugins/module_utils/rejoin/daemon.py), run as a process in the client's
namespace (no systemd there), against the kernel's own path manager: an open MPTCP
connection over two veth paths loses its second subflow (its address removed, or its link
down, until TCP gives up on it) and the path comes back. The oracle is the connection's
own MPTCP_INFO (the number of extra subflows, read by a client process of the test every
50 ms) and `ss` at the end, never the daemon's log.

To make "long enough that the subflow closes" a few seconds, the client namespace has
net.ipv4.tcp_retries2=3 (per namespace): a subflow whose packets go nowhere is reset
after about 3 s instead of TCP's 15 minutes. The rejoin times are printed (`-s`), not
asserted: BOUND is how long the test waits at most."""

import json
import os
import select
import subprocess
import sys
import time

import pytest

from two_paths import TwoPaths

PORT = 5290
SERVER = "198.18.191.2"
SECOND = "198.18.192.1"
BOUND = 10.0        # seconds the test waits for a subflow to close or to come back
WITHOUT_BOUND = 8.0  # seconds without the daemon in which no subflow may come back

# The connection's two ends. The client sends as fast as it can (with less, the scheduler
# keeps every byte on the first subflow, and the second, with nothing to retransmit, is
# never reset) and prints "MONOTONIC EXTRA_SUBFLOWS" every 50 ms:
# MPTCP_INFO's first byte (struct mptcp_info.mptcpi_subflows, the subflows besides the first).
SERVER_PROGRAM = """
import socket, sys
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", int(sys.argv[1])))
listener.listen(1)
print("listening", flush=True)
conn, _peer = listener.accept()
while conn.recv(1 << 16):
    pass
"""
CLIENT_PROGRAM = """
import socket, sys, threading, time
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
sock.connect((sys.argv[1], int(sys.argv[2])))
def pump():
    chunk = b"x" * 65536
    while True:
        sock.send(chunk)
threading.Thread(target=pump, daemon=True).start()
while True:
    print("%.3f %d" % (time.monotonic(), sock.getsockopt(284, 1, 256)[0]), flush=True)
    time.sleep(0.05)
"""


class Paths(TwoPaths):
    """two_paths.TwoPaths on 198.18.191.0/24 (the first path, the connection's) and
    198.18.192.0/24 (the second), with a client program that samples its subflow count."""

    def __init__(self, make_netns):
        super().__init__(make_netns, "198.18.191", "198.18.192")
        self.samples = []

    def connect(self):
        server = self.start(self.server, [sys.executable, "-c", SERVER_PROGRAM, str(PORT)], stdout=subprocess.PIPE)
        assert server.stdout.readline().strip() == "listening"
        self.client_process = self.start(self.client, [sys.executable, "-c", CLIENT_PROGRAM, SERVER, str(PORT)],
                                         stdout=subprocess.PIPE)

    def wait_for(self, extra, bound):
        """Reads the client's samples until one has `extra` extra subflows -> its time, or
        None when `bound` seconds passed without one."""
        deadline = time.monotonic() + bound
        stream = self.client_process.stdout
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                continue
            line = stream.readline()
            assert line, "the client ended: its connection broke"
            when, count = line.split()
            self.samples.append((float(when), int(count)))
            if int(count) == extra:
                return float(when)
        return None

    def second_subflow_ports(self):
        """`ss`: the local and remote address:port of each established subflow from the second path."""
        out = self.client.exec("ss", "-tnH", "state", "established", "src", SECOND).stdout
        return sorted(tuple(line.split()[-2:]) for line in out.splitlines() if line.strip())

    def subflows_from_second(self):
        """`ss`: the client's established TCP subflows whose local address is the second path's."""
        out = self.client.exec("ss", "-tnHi", "state", "established", "src", SECOND).stdout
        return out.count("tcp-ulp-mptcp")


@pytest.fixture
def paths(make_netns):
    made = Paths(make_netns)
    try:
        yield made
    finally:
        made.stop()


def take_away(paths, how):
    if how == "address":
        paths.client.ip("address", "del", SECOND + "/24", "dev", "c2")
    else:
        paths.client.ip("link", "set", "c2", "down")


def give_back(paths, how):
    if how == "address":
        paths.client.ip("address", "add", SECOND + "/24", "dev", "c2")
    else:
        paths.client.ip("link", "set", "c2", "up")


def lose_second_subflow(paths, how):
    """Connect, see the second subflow, take its path away until the subflow closed, and
    give the path back -> the monotonic time it was given back."""
    paths.connect()
    assert paths.wait_for(1, BOUND) is not None, "no second subflow at the start: %s" % paths.samples[-3:]
    take_away(paths, how)
    assert paths.wait_for(0, BOUND) is not None, "the second subflow did not close within %ss" % BOUND
    time.sleep(1)
    back = time.monotonic()
    give_back(paths, how)
    return back


@pytest.mark.parametrize("how", ["address", "link"])
def test_the_daemon_gives_the_connection_its_subflow_back(paths, tmp_path, how):
    paths.start_daemon(str(tmp_path))
    back = lose_second_subflow(paths, how)
    again = paths.wait_for(1, BOUND)
    assert again is not None, "no second subflow within %ss of the path's return (%s); daemon log:\n%s" % (
        BOUND, how, (tmp_path / "daemon.log").read_text())
    print("\nrejoin with mptcp-rejoin (%s removed and given back): %.2f s" % (how, again - back))
    assert paths.subflows_from_second() == 1
    # The endpoint is as listed: same id, flags and device.
    found = [e for e in paths.client.endpoints() if e["address"] == SECOND]
    assert found == [dict(address=SECOND, id=5, subflow=True, dev="c2")]


def test_a_daemon_started_while_the_address_is_gone_adds_it_when_it_returns(paths, tmp_path):
    """Started after the address went (a boot before DHCP, a restart): its dump of the
    host's addresses tells it, with no removal seen."""
    paths.connect()
    assert paths.wait_for(1, BOUND) is not None
    take_away(paths, "address")
    assert paths.wait_for(0, BOUND) is not None
    paths.start_daemon(str(tmp_path))
    back = time.monotonic()
    give_back(paths, "address")
    again = paths.wait_for(1, BOUND)
    assert again is not None, (tmp_path / "daemon.log").read_text()
    print("\nrejoin with mptcp-rejoin started while the address was gone: %.2f s" % (again - back))


@pytest.mark.parametrize("how", ["address", "link"])
def test_without_the_daemon_the_subflow_never_comes_back(paths, how):
    back = lose_second_subflow(paths, how)
    again = paths.wait_for(1, WITHOUT_BOUND)
    measured = "none within %.0f s" % WITHOUT_BOUND if again is None else "%.2f s" % (again - back)
    print("\nrejoin without mptcp-rejoin (%s): %s" % (how, measured))
    assert again is None
    assert paths.subflows_from_second() == 0
    # On this kernel the endpoint of the removed address stayed as it was.
    assert [e["id"] for e in paths.client.endpoints() if e["address"] == SECOND] == [5]


def test_an_address_that_never_went_leaves_the_subflow_alone(paths, tmp_path):
    """A new address on the path's interface (or a lifetime refreshed) is no return: the
    open subflow stays the same socket (its local port does not change)."""
    paths.start_daemon(str(tmp_path))
    paths.connect()
    assert paths.wait_for(1, BOUND) is not None
    before = paths.second_subflow_ports()
    paths.client.ip("address", "add", "198.18.192.9/24", "dev", "c2")
    paths.client.ip("address", "change", SECOND + "/24", "dev", "c2")
    time.sleep(1.5)
    after = paths.second_subflow_ports()
    assert before and after == before


# --- installed by mptcp_host, as the role calls it ----------------------------------------

# systemctl double: logs argv; keeps enabled and active units in a JSON file; `start` and
# `restart` run the unit's ExecStart= as a process of its own (in the module's namespace),
# `stop` ends it. The real systemd is not PID 1 on these machines.
SYSTEMCTL = """#!%(python)s
import json, os, shlex, signal, subprocess, sys
log, state_path, unit_dir = %(log)r, %(state)r, %(unit_dir)r
args = sys.argv[1:]
with open(log, "a") as handle:
    handle.write(" ".join(args) + "\\n")
state = json.load(open(state_path))
verb, name = args[0], (args[1] if len(args) > 1 else None)
def stop():
    if name in state["active"]:
        os.kill(state["active"].pop(name), signal.SIGTERM)
if verb == "is-system-running":
    print("running")  # as systemd as init; mptcp_host asks before it installs units
    sys.exit(0)
if verb == "is-enabled":
    print("enabled" if name in state["enabled"] else "disabled")
    sys.exit(0 if name in state["enabled"] else 1)
if verb == "is-active":
    print("active" if name in state["active"] else "inactive")
    sys.exit(0 if name in state["active"] else 3)
if verb == "enable":
    state["enabled"] = sorted(set(state["enabled"]) | {name})
elif verb == "disable":
    state["enabled"] = [unit for unit in state["enabled"] if unit != name]
elif verb in ("start", "restart"):
    stop()
    line = [l for l in open(os.path.join(unit_dir, name)) if l.startswith("ExecStart=")][0]
    out = open(log + "." + name, "a")
    state["active"][name] = subprocess.Popen(shlex.split(line[len("ExecStart="):]), stdout=out, stderr=out,
                                             start_new_session=True).pid
elif verb == "stop":
    stop()
json.dump(state, open(state_path, "w"))
"""


class Systemd:
    def __init__(self, base):
        self.unit_dir = os.path.join(base, "system")
        self.bin = os.path.join(base, "bin")
        os.mkdir(self.unit_dir)
        os.mkdir(self.bin)
        self.log = os.path.join(base, "systemctl.log")
        self.state = os.path.join(base, "systemd.json")
        with open(self.state, "w") as handle:
            json.dump(dict(enabled=[], active={}), handle)
        open(self.log, "w").close()
        with open(os.path.join(self.bin, "systemctl"), "w") as handle:
            handle.write(SYSTEMCTL % dict(python=sys.executable, log=self.log, state=self.state, unit_dir=self.unit_dir))
        os.chmod(os.path.join(self.bin, "systemctl"), 0o755)

    def calls(self):
        with open(self.log) as handle:
            lines = [line.strip() for line in handle]
        open(self.log, "w").close()
        return [line for line in lines if not line.startswith(("is-enabled", "is-active", "is-system-running", "--version"))]

    def active(self):
        with open(self.state) as handle:
            return json.load(handle)["active"]

    def wrap(self):
        return ["env", "PATH=%s:%s" % (self.bin, os.environ["PATH"])]

    def stop_all(self):
        for pid in self.active().values():
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass


@pytest.fixture
def systemd(tmp_path):
    made = Systemd(str(tmp_path))
    try:
        yield made
    finally:
        made.stop_all()


def test_mptcp_host_installs_runs_and_removes_mptcp_rejoin(paths, systemd, tmp_path, module_runner):
    """The role's one module call with rejoin: true installs the program as Ansible ships it,
    its endpoint list and unit, enables and starts it (check mode first: nothing), a second
    run changes nothing; the service it started gives the connection its subflow back;
    rejoin: false stops it and removes its files, and so does state: absent."""
    args = dict(sysctl={"enabled": 1}, sysctl_path=str(tmp_path / "90-mptcp.conf"), unit_dir=systemd.unit_dir,
                endpoints=[dict(address=SECOND, dev="c2", id=5, flags=["subflow"])], limits=dict(subflows=2),
                rejoin=True, rejoin_program=str(tmp_path / "mptcp-rejoin.py"), rejoin_config=str(tmp_path / "rejoin.json"))
    files = [str(tmp_path / "mptcp-rejoin.py"), str(tmp_path / "rejoin.json"), os.path.join(systemd.unit_dir, "mptcp-rejoin.service")]

    def run(check_mode=False, **more):
        return module_runner("mptcp_host", dict(args, **more), check_mode=check_mode, inside_netns=paths.client.name,
                             wrap=systemd.wrap())

    checked = run(check_mode=True)
    assert checked.get("failed") is not True, checked.get("msg")
    rejoin = [part for part in checked["parts"] if part["name"] == "rejoin"][0]
    assert rejoin["changed"] is True and sorted(rejoin["files_changed"]) == sorted(files)
    assert not any(os.path.exists(path) for path in files) and systemd.calls() == []

    done = run()
    assert done["changed"] is True and "rejoin" in done["changed_parts"], done.get("msg")
    assert all(os.path.exists(path) for path in files)
    assert systemd.calls()[-3:] == ["daemon-reload", "enable mptcp-rejoin.service", "start mptcp-rejoin.service"]
    with open(str(tmp_path / "rejoin.json")) as handle:
        assert json.load(handle)["endpoints"] == [dict(address=SECOND, dev="c2", id=5, flags=["subflow"])]
    again = run()
    assert again["changed"] is False, again["changed_parts"]
    assert systemd.calls() == []

    # The service as installed and started does its work.
    back = lose_second_subflow(paths, "address")
    rejoined = paths.wait_for(1, BOUND)
    assert rejoined is not None, open(systemd.log + ".mptcp-rejoin.service").read()
    print("\nrejoin with mptcp-rejoin installed by mptcp_host: %.2f s" % (rejoined - back))

    removed = run(rejoin=False)
    assert [part["changed"] for part in removed["parts"] if part["name"] == "rejoin"] == [True]
    assert not any(os.path.exists(path) for path in files)
    assert systemd.active() == {}
    assert systemd.calls() == ["stop mptcp-rejoin.service", "disable mptcp-rejoin.service", "daemon-reload"]
    assert run(rejoin=False)["changed"] is False

    # state absent removes it whatever rejoin says (the role's mptcp_state: absent).
    assert run()["changed"] is True and all(os.path.exists(path) for path in files)
    systemd.calls()
    undone = run(state="absent")
    assert [part["changed"] for part in undone["parts"] if part["name"] == "rejoin"] == [True], undone.get("msg")
    assert not any(os.path.exists(path) for path in files) and systemd.active() == {}
    assert "stop mptcp-rejoin.service" in systemd.calls()
