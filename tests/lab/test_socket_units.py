"""Services onto MPTCP without a preload (issue 22), the role on a lab of its own: socket
units through `SocketProtocol=mptcp` where systemd is 257 or later (Debian 13), refused
with the role's message where it is older (Debian 12: 252, which ignores the line and
listens over TCP), and Go services kept on TCP through GODEBUG=multipathtcp=0.

Each host gets, before the role runs, units of the test's own (not the collection's):
- hs-echo.socket, Accept=yes on port 7000, each connection served by `cat`;
- hs-one.socket, Accept=no on port 7001, served by a small Python standard-library echo
  server that takes the listener systemd passes it (fd 3), running when the role runs:
  systemd refuses to start a socket again while such a service runs, so the role must stop
  it first;
- hs-go.service, `sleep infinity` in place of a Go program: the lab has no Go, so what is
  checked is the drop-in's effect on the unit (`systemctl show -p Environment`) and on the
  running process's environment, not a Go listener.

The oracles are the hosts' own tools through `podman exec`: `ss -Mltn` / `ss -Mnp` (the
listener and the accepted connection are MPTCP, and owned by `cat`), the MPTcpExt counters
of /proc/net/netstat (MPCapableSYNRX, MPCapableACKRX up, no fallback), /proc/PID/environ
(no LD_PRELOAD in the serving process), `systemctl show`, `systemctl is-active`, the
drop-in files."""

import json
import os
import re
import subprocess
import textwrap

import pytest

from lab_session import _env

HERE = os.path.dirname(os.path.abspath(__file__))

LAB_PREFIX = "hs-sock"
LAB_SUBNETS = ["198.19.43.0/24", "198.19.44.0/24", "198.19.45.0/24"]
UNIT_DIR = "/etc/systemd/system"
ECHO_PORT, ONE_PORT = 7000, 7001
VARIABLES = {"mptcp_mptcpize_services": ["hs-echo.socket", "hs-one.socket"],
             "mptcp_go_services_tcp_only": ["hs-go"]}
DROPINS = ["%s/hs-echo.socket.d/50-mptcp.conf" % UNIT_DIR, "%s/hs-one.socket.d/50-mptcp.conf" % UNIT_DIR,
           "%s/hs-go.service.d/50-mptcp.conf" % UNIT_DIR]
PLAYBOOK = """\
- name: The role on the lab's hosts
  hosts: all
  gather_facts: false
  roles:
    - role: mptcp.linux.mptcp
"""
UNITS = {
    "hs-echo.socket": "[Socket]\nListenStream=%d\nAccept=yes\n" % ECHO_PORT,
    "hs-echo@.service": "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
    "hs-one.socket": "[Socket]\nListenStream=%d\n" % ONE_PORT,
    "hs-one.service": "[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/hs-one.py\n",
    "hs-go.service": "[Service]\nExecStart=/bin/sleep infinity\n",
}
# The Accept=no service: echoes each connection, one after the other, until its peer
# closes it, on the listener systemd passed it.
ONE_PY = textwrap.dedent("""\
    import socket
    listener = socket.socket(fileno=3)
    while True:
        conn, _peer = listener.accept()
        with conn:
            for data in iter(lambda: conn.recv(4096), b""):
                conn.sendall(data)
    """)
# The client, on the other host: an MPTCP socket (Python 3.10+ has IPPROTO_MPTCP), one
# line sent and read back, then held open until the test closes its stdin.
CLIENT_PY = textwrap.dedent("""\
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
    s.settimeout(10)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"over mptcp\\n")
    print(s.recv(100).decode().strip(), flush=True)
    sys.stdin.read()
    s.close()
    """)


def host_of(lab, distro):
    return next(host for host, name in lab.hosts.items() if name == distro)


def role(lab, tmp_path, host, *args, **variables):
    playbook = tmp_path / "role.yml"
    playbook.write_text(PLAYBOOK)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(VARIABLES, **variables)))
    return lab.json_playbook(str(playbook), "--limit", host, "-e", "@%s" % extra, *args)


def results(report, host, task):
    return [result for play in report["plays"] for entry in play["tasks"]
            if entry["task"]["name"].split(" : ", 1)[-1] == task
            for name, result in entry["hosts"].items() if name == host and not result.get("skipped")]


HOST_TASK = "Set MPTCP up, or undo it, in one call"


def stats(report, host):
    return report["stats"][host]


def counters(lab, host):
    lines = [line.split() for line in lab.exec(host, "cat", "/proc/net/netstat").stdout.splitlines()
             if line.startswith("MPTcpExt:")]
    return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:])))


def listeners(lab, host):
    """{port: set of protocols listening on it}, from `ss -Mltn` (mptcp and tcp rows)."""
    found = {}
    for line in lab.exec(host, "ss", "-Mltn").stdout.splitlines()[1:]:
        fields = line.split()
        found.setdefault(int(fields[4].rsplit(":", 1)[1]), set()).add(fields[0])
    return found


def existing(lab, host, paths):
    return [path for path in paths if lab.exec(host, "test", "-e", path, check=False).returncode == 0]


def environment_of(lab, host, pid):
    return lab.exec(host, "cat", "/proc/%s/environ" % pid).stdout.split("\0")


def unit_environment(lab, host, unit):
    return lab.exec(host, "systemctl", "show", "--property=Environment", "--value", unit).stdout.split()


@pytest.fixture(scope="module")
def units(own_lab):
    """The test's units on both hosts, the sockets listening and hs-one.service running."""
    lab = own_lab
    script = ["mkdir -p %s" % UNIT_DIR]
    for name, text in UNITS.items():
        script.append("printf '%%s' '%s' > %s/%s" % (text, UNIT_DIR, name))
    script.append("printf '%%s' '%s' > /usr/local/lib/hs-one.py" % ONE_PY)
    script.append("systemctl daemon-reload && systemctl start hs-echo.socket hs-one.socket hs-go.service")
    for host in lab.hosts:
        lab.exec(host, "sh", "-ec", "\n".join(script))
    for host in lab.hosts:
        start_one(lab, host)
    return lab


def start_one(lab, host):
    """hs-one.service started by a connection to its socket, as socket activation does."""
    lab.exec(host, "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', %d)).close()" % ONE_PORT)
    lab.exec(host, "sh", "-ec", "for i in $(seq 50); do systemctl is-active -q hs-one.service && exit 0; sleep 0.1; done; "
             "systemctl status hs-one.service; exit 1")


class Client:
    """An MPTCP connection from `client` to `address:port`, held open while the test looks."""

    def __init__(self, lab, client, address, port):
        self.proc = subprocess.Popen(["podman", "exec", "-i", client, "python3", "-c", CLIENT_PY, address, str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=_env())
        self.echoed = self.proc.stdout.readline().strip()

    def close(self):
        out, err = self.proc.communicate("", timeout=30)
        return self.proc.returncode, err


def served_by(lab, host, port):
    """The established MPTCP connections on local `port`, with the process that holds
    each: [(process name, pid)] (one per file descriptor), from `ss -Mnp`."""
    found = []
    for line in lab.exec(host, "ss", "-Mnp", "state", "established").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2].endswith(":%d" % port):
            found += re.findall(r'\("([^"]+)",pid=(\d+)', line)
    return found


def test_check_mode_on_debian13_writes_nothing(units, tmp_path):
    lab = units
    host = host_of(lab, "debian13")
    report = role(lab, tmp_path, host, "--check", "--diff")
    (call,) = results(report, host, HOST_TASK)
    assert not call.get("failed"), call
    assert call["services_changed"] == ["hs-echo.socket", "hs-go.service", "hs-one.socket"], call
    assert "SocketProtocol=mptcp" in json.dumps(call["diff"]) and "GODEBUG=multipathtcp=0" in json.dumps(call["diff"])
    assert existing(lab, host, DROPINS) == []
    assert listeners(lab, host)[ECHO_PORT] == {"tcp"} and listeners(lab, host)[ONE_PORT] == {"tcp"}


def test_on_debian13_a_socket_activated_service_answers_over_mptcp_without_a_preload(units, tmp_path):
    lab = units
    host, client = host_of(lab, "debian13"), host_of(lab, "debian12")
    assert lab.exec(host, "systemctl", "--version").stdout.startswith("systemd 257 ")
    report = role(lab, tmp_path, host)
    (call,) = results(report, host, HOST_TASK)
    assert not call.get("failed") and stats(report, host)["failures"] == 0, call
    assert call["socket_services_running"] == ["hs-one.service"], call
    assert existing(lab, host, DROPINS) == DROPINS
    # Both sockets up again (hs-one's service was stopped first, or systemd refuses), both MPTCP listeners.
    active = lab.exec(host, "systemctl", "is-active", "hs-echo.socket", "hs-one.socket", "hs-one.service",
                      check=False).stdout.split()
    assert active == ["active", "active", "active"], active
    found = listeners(lab, host)
    assert "mptcp" in found[ECHO_PORT] and "mptcp" in found[ONE_PORT], found

    for port, process in ((ECHO_PORT, "cat"), (ONE_PORT, "python3")):
        before = counters(lab, host)
        connection = Client(lab, client, lab.address(host, "eth0"), port)
        try:
            assert connection.echoed == "over mptcp"
            # The accepted connection is an MPTCP socket, held by the serving process (and, with
            # Accept=yes, by systemd, which keeps a copy for the instance).
            serving = dict(served_by(lab, host, port))
            assert process in serving and set(serving) <= {process, "systemd"}, lab.exec(host, "ss", "-Mnp").stdout
            environment = environment_of(lab, host, serving[process])
            assert not [item for item in environment if item.startswith("LD_PRELOAD=")], environment
        finally:
            rc, err = connection.close()
        assert rc == 0, err
        after = counters(lab, host)
        assert after["MPCapableSYNRX"] - before["MPCapableSYNRX"] == 1, (before, after)
        assert after["MPCapableACKRX"] - before["MPCapableACKRX"] == 1, (before, after)
        for fallback in ("MPCapableFallbackACK", "MPCapableFallbackSYNACK", "DssFallback"):
            assert after.get(fallback, 0) == before.get(fallback, 0), fallback


def test_on_debian13_the_go_service_gets_godebug_and_was_restarted_with_it(units, tmp_path):
    lab = units
    host = host_of(lab, "debian13")
    assert "GODEBUG=multipathtcp=0" in unit_environment(lab, host, "hs-go.service")
    pid = lab.exec(host, "systemctl", "show", "--property=MainPID", "--value", "hs-go.service").stdout.strip()
    assert "GODEBUG=multipathtcp=0" in environment_of(lab, host, pid)


def test_on_debian13_a_second_run_changes_nothing(units, tmp_path):
    lab = units
    host = host_of(lab, "debian13")
    report = role(lab, tmp_path, host)
    (call,) = results(report, host, HOST_TASK)
    assert not call["changed"] and call["services_changed"] == [], call
    assert stats(report, host)["changed"] == 0, stats(report, host)


def test_on_debian12_socket_units_are_refused_before_anything_changes(units, tmp_path):
    lab = units
    host = host_of(lab, "debian12")
    assert lab.exec(host, "systemctl", "--version").stdout.startswith("systemd 252 ")
    sysctl_before = existing(lab, host, ["/etc/sysctl.d/90-mptcp.conf"])
    report = role(lab, tmp_path, host)
    (call,) = results(report, host, HOST_TASK)
    assert call.get("failed"), call
    message = call["msg"]
    assert ("mptcp_mptcpize_services lists hs-echo.socket, hs-one.socket, but %s has systemd 252" % host) in message
    assert "only systemd 257 or later makes it an MPTCP one (SocketProtocol=mptcp" in message, message
    assert existing(lab, host, DROPINS) == [] and existing(lab, host, ["/etc/sysctl.d/90-mptcp.conf"]) == sysctl_before
    assert listeners(lab, host)[ECHO_PORT] == {"tcp"}
    assert "GODEBUG=multipathtcp=0" not in unit_environment(lab, host, "hs-go.service")


def test_on_debian12_the_go_service_alone_gets_godebug(units, tmp_path):
    lab = units
    host = host_of(lab, "debian12")
    report = role(lab, tmp_path, host, mptcp_mptcpize_services=[])
    (call,) = results(report, host, HOST_TASK)
    assert not call.get("failed") and call["services_changed"] == ["hs-go.service"], call
    assert "GODEBUG=multipathtcp=0" in unit_environment(lab, host, "hs-go.service")
    assert existing(lab, host, DROPINS) == [DROPINS[2]]


def test_on_debian13_absent_removes_the_drop_ins_and_the_sockets_listen_over_tcp_again(units, tmp_path):
    lab = units
    host = host_of(lab, "debian13")
    start_one(lab, host)
    report = role(lab, tmp_path, host, mptcp_state="absent")
    (call,) = results(report, host, HOST_TASK)
    assert not call.get("failed") and stats(report, host)["failures"] == 0, call
    assert call["services_changed"] == ["hs-echo.socket", "hs-go.service", "hs-one.socket"], call
    assert existing(lab, host, DROPINS) == []
    active = lab.exec(host, "systemctl", "is-active", "hs-echo.socket", "hs-one.socket", check=False).stdout.split()
    assert active == ["active", "active"], active
    found = listeners(lab, host)
    assert found[ECHO_PORT] == {"tcp"} and found[ONE_PORT] == {"tcp"}, found
    assert "GODEBUG=multipathtcp=0" not in unit_environment(lab, host, "hs-go.service")
