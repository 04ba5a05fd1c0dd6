"""The parsers of the recorded datagrams and tool outputs, fed live from this kernel and this
machine's tools, and judged by something the collection did not write: `genl ctrl get`
(iproute2's own generic netlink client) for the family lookup, `ip mptcp monitor` for the
events, `ip -j` for the endpoints and the recordings the unit tests use.

Everything runs in a fresh network namespace (tests/kernel/conftest.py)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.info.ss import parse_sockets
from ansible_collections.mptcp.linux.plugins.module_utils.info.tools import parse_iproute2_version
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import counter_deltas, parse_netstat
from ansible_collections.mptcp.linux.plugins.module_utils.netlink import NETLINK_GENERIC, parse_messages
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import EVENT_NAMES, parse_family, resolve_family
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import RECORDED
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_pm_iproute2 import (
    ENDPOINTS_JSON,
    ERRORS_SHOWN,
    LIMITS_SHOWN,
    USAGE_6_1,
)

THIS_IP = subprocess.run(["ip", "-V"], capture_output=True, text=True, check=True).stdout


def genl_family(name):
    """(id, {group: id}) of a generic netlink family, as `genl ctrl get name NAME` prints them."""
    out = subprocess.run(["genl", "ctrl", "get", "name", name], capture_output=True, text=True, check=True).stdout
    family = int(re.search(r"\bID: (0x[0-9a-f]+)", out).group(1), 16)
    groups = dict((group, int(number, 16)) for number, group in re.findall(r"ID-(0x[0-9a-f]+)\s+name: (\S+)", out))
    return family, groups


def python_in(netns, script):
    """Run `script` with this Python inside the namespace, the collection importable; its
    stdout parsed as JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(["ip", "netns", "exec", netns.name, sys.executable, "-c", script], capture_output=True,
                         text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_family_lookup_on_a_real_socket_matches_genl():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    try:
        sock.bind((0, 0))
        found = resolve_family(sock, "mptcp_pm", seq=7)
    finally:
        sock.close()
    family, groups = genl_family("mptcp_pm")
    assert set(groups) == {"mptcp_pm_cmds", "mptcp_pm_events"}
    assert found == (family, groups)


# In the namespace: `ip mptcp monitor` and the collection's EventListener side by side, an
# MPTCP connection on loopback, and both accounts printed as JSON. A listener is opened
# again and again until `ip` shows it, so `ip` has joined the group before the events that
# count; the EventListener starts then (its start() returns once it has joined).
WATCH = r"""
import json, os, select, socket, subprocess, sys, time
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import EventListener

monitor = subprocess.Popen(["ip", "mptcp", "monitor"], stdout=subprocess.PIPE, bufsize=0)
lines, partial = [], [b""]

def read_lines(until, timeout):
    # os.read, not readline: a buffered reader would keep lines select() no longer sees.
    deadline = time.time() + timeout
    while not until() and time.time() < deadline:
        if select.select([monitor.stdout], [], [], 0.1)[0]:
            *done, partial[0] = (partial[0] + os.read(monitor.stdout.fileno(), 65536)).split(b"\n")
            lines.extend(line.decode() for line in done)

def a_listener_shown(since):
    return any("LISTENER_CREATED" in line or "UNKNOWN 15" in line for line in lines[since:])

def listener(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock

for attempt in range(100):
    since = len(lines)
    probe = listener(5000)
    read_lines(lambda: a_listener_shown(since), 0.2)
    if a_listener_shown(since):
        break
    probe.close()
# Events reach each socket in order: whatever an earlier probe made came before this line.
seen_before = len(lines)
events = EventListener()
assert events.start(), events.warning
probe.close()
server = listener(5001)
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
client.connect(("127.0.0.1", 5001))
accepted, _peer = server.accept()
client.sendall(b"x" * 1000)
accepted.recv(1000)
client.close()
accepted.close()
server.close()
events.wait_for(lambda event: event["type"] == "listener_closed" and event.get("sport") == 5001, 10)
found = events.stop()
read_lines(lambda: len(lines) - seen_before >= len(found), 10)
monitor.kill()
print(json.dumps({"ip": lines[seen_before:], "ours": [event["line"] for event in found],
                  "types": [event["type"] for event in found]}))
"""


CONNECTION_EVENTS = ["listener_closed", "listener_created", "created", "created", "established", "established",
                     "closed", "closed", "listener_closed"]


def as_iproute2_6_1(line):
    """Our line (iproute2 6.18's format) as iproute2 6.1 prints it: the name column as wide
    as the name, server_side as flags=2, the listener events unnamed ("UNKNOWN 15", no
    attributes)."""
    name, rest = re.match(r"\[ *([A-Z_]+)\](.*)", line).groups()
    if name in ("LISTENER_CREATED", "LISTENER_CLOSED"):
        number = [cmd for cmd, known in EVENT_NAMES.items() if known == name][0]
        return "[UNKNOWN %d]" % number
    return "[%s]%s" % (name, rest.replace(" server_side", " flags=2"))


# How this machine's iproute2 prints what the collection's line (6.18's format) says.
MONITOR_FORMATS = {"6.1": as_iproute2_6_1}


def test_the_events_match_what_ip_mptcp_monitor_prints(netns):
    version = re.search(r"iproute2-(\d+\.\d+)", THIS_IP).group(1)
    if version not in MONITOR_FORMATS:
        pytest.skip("how iproute2 %s prints the events is not known to this test (known: %s)"
                    % (version, ", ".join(sorted(MONITOR_FORMATS))))
    netns.ip("link", "set", "lo", "up")
    seen = python_in(netns, WATCH)
    # The probe's close, then the connection's (the kernel may order the two sides' events either way).
    assert sorted(seen["types"]) == sorted(CONNECTION_EVENTS), seen
    expected = [MONITOR_FORMATS[version](line) for line in seen["ours"]]
    assert [re.sub(r"^\[ +", "[", line) for line in seen["ip"]] == \
        [re.sub(r"^\[ +", "[", line) for line in expected]


def test_the_recorded_family_reply_has_the_shape_of_this_kernels():
    """The recording's multicast groups are the ones this kernel gives mptcp_pm (the ids are
    given out at boot, and may differ)."""
    recorded = parse_family(parse_messages(bytes.fromhex(RECORDED["client"]["getfamily_reply"]))[0][3])
    assert sorted(recorded[1]) == sorted(genl_family("mptcp_pm")[1])


# --- the recordings of tests/unit/.../test_pm_iproute2.py, made again with this `ip` ---------

RECORDED_IP = "iproute2-6.1.0"
# The recording's addresses, in this suite's range (198.18.0.0/15).
RECORDED_NET, LIVE_NET = "10.1.0.", "198.18.201."


def recorded_here():
    """The recordings are of one iproute2: another one prints otherwise, and says so."""
    if RECORDED_IP not in THIS_IP:
        pytest.skip("the iproute2 recordings are of %s; this machine's ip is %s" % (RECORDED_IP, THIS_IP.strip()))


def ip_out(netns, *args):
    """(rc, stdout, stderr) of `ip -n NS args...`."""
    return netns.ip_runner(["ip", "-n", netns.name] + list(args))


def test_the_recorded_usage_is_what_this_ip_prints():
    recorded_here()
    help_run = subprocess.run(["ip", "mptcp", "help"], capture_output=True, text=True, check=False)
    assert (help_run.returncode, help_run.stdout, help_run.stderr) == (255, "", USAGE_6_1)


def test_the_recorded_endpoints_are_what_this_ip_prints(netns):
    """The five endpoints of ENDPOINTS_JSON made in a namespace (laminar through pyroute2,
    which 6.1 cannot set; the dev of the last one deleted after it), then shown by this ip."""
    recorded_here()
    netns.add_interface("e1", LIVE_NET + "1/24")  # a signal endpoint with a port needs it local
    netns.add_interface("e9")
    gone = json.loads(netns.ip("-j", "link", "show", "e9"))[0]["ifindex"]
    netns.ip("mptcp", "endpoint", "add", LIVE_NET + "1", "port", "8080", "id", "1", "signal")
    netns.ip("mptcp", "endpoint", "add", LIVE_NET + "2", "id", "2", "dev", "e1", "subflow", "backup", "fullmesh")
    netns.ip("mptcp", "endpoint", "add", "2001:db8::2", "id", "3", "subflow")
    netns.exec(sys.executable, "-c", "from pyroute2 import MPTCP; MPTCP().endpoint('add', addr=%r, id=4, flags=0x22)"
               % (LIVE_NET + "4"))
    netns.ip("mptcp", "endpoint", "add", LIVE_NET + "5", "id", "5", "dev", "e9", "subflow")
    netns.ip("link", "delete", "e9")
    rc, live, err = ip_out(netns, "-j", "mptcp", "endpoint", "show")
    assert (rc, err) == (0, "")
    assert live.strip() == ENDPOINTS_JSON.replace(RECORDED_NET, LIVE_NET).replace('"if99"', '"if%d"' % gone)


def test_the_recorded_limits_and_errors_are_what_this_ip_prints(netns):
    recorded_here()
    netns.add_interface("e1", LIVE_NET + "1/24")
    netns.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
    assert ip_out(netns, "mptcp", "limits", "show") == (0, LIMITS_SHOWN, "")
    netns.ip("mptcp", "endpoint", "add", LIVE_NET + "2", "id", "2", "subflow")
    failures = [
        ("add", LIVE_NET + "77", "port", "9000", "signal"),  # not an address of the namespace
        ("add", LIVE_NET + "2", "id", "3", "subflow"),  # the same address again
        ("add", LIVE_NET + "9", "dev", "nosuch", "subflow"),
    ]
    seen = [ip_out(netns, "mptcp", "endpoint", *words) for words in failures]
    assert [(rc != 0, out, err.strip()) for rc, out, err in seen] == [(True, "", text) for text in ERRORS_SHOWN]


# --- ss -H -Mnai on a live connection, against the socket's own MPTCP_INFO ------------------

# In the namespace: an MPTCP connection on loopback; the client's MPTCP_INFO (SOL_MPTCP 284,
# MPTCP_INFO 1: u8 subflows, add_addr_signal, add_addr_accepted, subflows_max,
# add_addr_signal_max, add_addr_accepted_max, then u32 flags, u32 token) and `ss` of the
# namespace while it is open.
CONNECTION = r"""
import json, socket, struct, subprocess
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
server.bind(("127.0.0.1", 5201))
server.listen()
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
client.connect(("127.0.0.1", 5201))
accepted, _peer = server.accept()
client.sendall(b"x")
accepted.recv(1)
info = client.getsockopt(284, 1, 256)
names = ("subflows", "add_addr_signal", "add_addr_accepted", "subflows_max", "add_addr_signal_max",
         "add_addr_accepted_max")
own = dict(zip(names, info[:6]))
own["token"] = "%x" % struct.unpack_from("=I", info, 12)[0]
own["port"] = client.getsockname()[1]
ss = subprocess.run(["ss", "-H", "-M", "-n", "-a", "-i"], capture_output=True, text=True, check=True).stdout
print(json.dumps({"own": own, "ss": ss}))
"""


def test_ss_of_a_live_connection_parses_to_what_the_socket_says_of_itself(netns):
    netns.ip("link", "set", "lo", "up")
    netns.ip("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
    seen = python_in(netns, CONNECTION)
    own = seen["own"]
    (client,) = [s for s in parse_sockets(seen["ss"]) if s["local"]["port"] == own["port"]]
    assert client["state"] == "ESTAB" and client["remote"] == {"address": "127.0.0.1", "port": 5201, "dev": None}
    assert client["token"] == own["token"]
    for name in ("subflows", "add_addr_signal", "add_addr_accepted", "subflows_max", "add_addr_signal_max",
                 "add_addr_accepted_max"):
        assert client[name] == own[name], name
    assert (own["subflows_max"], own["add_addr_accepted_max"]) == (3, 1)


# --- /proc/net/netstat, as nstat (iproute2) reads it ---------------------------------------

def nstat_mptcp(netns, tmp_path):
    """{counter: value} of MPTcpExt from `nstat -asz -j` in the namespace (absolute values,
    zeros too, its history file in tmp_path and left alone)."""
    env = dict(os.environ, NSTAT_HISTORY=str(tmp_path / "nstat.history"))
    out = subprocess.run(["ip", "netns", "exec", netns.name, "nstat", "-asz", "-j"], capture_output=True, text=True,
                         env=env, check=True).stdout
    return dict((name[len("MPTcpExt"):], value) for name, value in json.loads(out)["kernel"].items()
                if name.startswith("MPTcpExt"))


def test_the_counters_parse_as_nstat_reads_them(netns, tmp_path):
    netns.ip("link", "set", "lo", "up")
    netns.ip("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
    before = parse_netstat(netns.exec("cat", "/proc/net/netstat").stdout)
    assert before == nstat_mptcp(netns, tmp_path)
    python_in(netns, CONNECTION)
    after = parse_netstat(netns.exec("cat", "/proc/net/netstat").stdout)
    assert after == nstat_mptcp(netns, tmp_path)
    moved = counter_deltas(before, after)
    # One connection on loopback: both handshakes counted in this namespace.
    assert (moved["MPCapableSYNTX"], moved["MPCapableSYNRX"], moved["MPCapableSYNACKRX"]) == (1, 1, 1)


def test_the_iproute2_version_read_is_the_installed_package():
    """`ip -V` parsed as mptcp_info reports it, against the package manager's record."""
    if not shutil.which("dpkg-query"):
        pytest.skip("no dpkg-query on this machine to say which iproute2 is installed")
    package = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "iproute2"], capture_output=True, text=True,
                             check=True).stdout
    upstream = re.sub(r"^\d+:", "", package).split("-")[0]  # epoch:upstream-debian
    assert parse_iproute2_version(THIS_IP) == upstream


# --- a connection's subflows (MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS, recorded as
# subflows_two/subflows_one in mptcp_recorded.py), against ss's list of TCP subflows ------

JOINED = r"""
import json, socket, subprocess, time
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import read_subflows
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
server.bind(("198.18.203.1", 5300))
server.listen()
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
client.connect(("198.18.203.1", 5300))
accepted, _peer = server.accept()
client.sendall(b"x")
accepted.recv(1)
deadline = time.time() + 10
while client.getsockopt(284, 1, 256)[0] < 1 and time.time() < deadline:  # MPTCP_INFO: the join
    time.sleep(0.02)
subflows = read_subflows(client)
ss = subprocess.run(["ss", "-H", "-t", "-n", "-i", "state", "established"], capture_output=True, text=True,
                    check=True).stdout
print(json.dumps({"subflows": subflows, "ss": ss}))
"""


def test_the_subflows_read_from_the_socket_are_the_tcp_subflows_ss_lists(netns):
    """One namespace, two addresses on lo, a subflow endpoint on the second: the client's
    connection joins once on loopback."""
    netns.ip("link", "set", "lo", "up")
    for address in ("198.18.203.1/24", "198.18.203.2/24"):
        netns.ip("address", "add", address, "dev", "lo")
    netns.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
    netns.ip("mptcp", "endpoint", "add", "198.18.203.2", "subflow")
    seen = python_in(netns, JOINED)
    # ss: "0 0 LOCAL:PORT REMOTE:PORT" then an indented info line naming the ULP.
    lines = seen["ss"].splitlines()
    from_ss = sorted((local.rsplit(":", 1)[0], int(local.rsplit(":", 1)[1]), remote.rsplit(":", 1)[0],
                      int(remote.rsplit(":", 1)[1]))
                     for (_recv, _send, local, remote), info in zip([line.split() for line in lines[0::2]], lines[1::2])
                     if remote == "198.18.203.1:5300" and "tcp-ulp-mptcp" in info)
    ours = sorted((s["local"], s["local_port"], s["remote"], s["remote_port"]) for s in seen["subflows"])
    assert [s["state"] for s in seen["subflows"]] == ["established", "established"]
    assert ours == from_ss
    assert sorted(address for address, _port, _remote, _rport in ours) == ["198.18.203.1", "198.18.203.2"]
