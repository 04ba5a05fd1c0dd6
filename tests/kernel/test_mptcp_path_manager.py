"""mptcp_path_manager against the real kernel: a fresh namespace per test, both backends
where the backend does the work, `ip -n NS mptcp limits show` and `ip -n NS -j mptcp
endpoint show` as the oracle (read by the fixture's and this file's own code, not by the
collection's parsers).

The module runs through `ansible` itself (module_runner), except where a fault has to be
put between the plan and the change (an interface removed): there the module's own code
runs in-process with a backend that does it."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_output import failed_cleanly
from backend_faults import RemovesALink
from this_ip import IP_SIDES, laminar_by, on_side

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_path_manager
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import validate_endpoints, validate_limits

IP = shutil.which("ip")
BACKENDS = ["pyroute2", "iproute2"]
DEFAULTS = {"subflows": 2, "add_addr_accepted": 0}
BITS = {"signal": 0x1, "subflow": 0x2, "backup": 0x4, "fullmesh": 0x8, "implicit": 0x10, "laminar": 0x20}


def bits(*names):
    return sum(BITS[name] for name in names)


def flag_bits(entry):
    """The flags of an entry of `ip -j mptcp endpoint show`: `"name": true` for those this
    iproute2 names, `"rawflags": "hex"` for the others (6.1 names neither implicit nor
    laminar)."""
    return sum(bit for name, bit in BITS.items() if entry.get(name) is True) | int(entry.get("rawflags", "0"), 16)


def oracle(netns):
    """{(address, port): (id, dev, flag bits)} from `ip -j mptcp endpoint show`."""
    return dict(((entry["address"], entry.get("port", 0)), (entry["id"], entry.get("dev"), flag_bits(entry)))
                for entry in netns.endpoints())


def state(netns):
    """Everything of the path manager the module may touch, as `ip` shows it."""
    return netns.limits(), netns.ip("-j", "mptcp", "endpoint", "show")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def ns(netns):
    """The test namespace with two veth interfaces: e1 (198.18.1.1/24, 2001:db8:1::1/64)
    and e2 (198.18.2.1/24)."""
    netns.add_interface("e1", "198.18.1.1/24", "2001:db8:1::1/64")
    netns.add_interface("e2", "198.18.2.1/24")
    return netns


@pytest.fixture
def busy(ns):
    """The namespace with limits off their defaults and two endpoints, set with `ip`."""
    ns.ip("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
    ns.ip("mptcp", "endpoint", "add", "198.18.1.1", "id", "1", "dev", "e1", "subflow")
    ns.ip("mptcp", "endpoint", "add", "198.18.9.9", "id", "2", "signal")
    return ns


# --- limits and endpoints together ----------------------------------------------------------

def test_limits_and_endpoints_are_applied_together_and_a_second_run_changes_nothing(ns, backend, module_runner):
    args = {"netns": ns.name, "backend": backend, "limits": {"subflows": 4, "add_addr_accepted": 2},
            "endpoints": [{"address": "198.18.1.1", "id": 1, "dev": "e1", "flags": ["subflow"]},
                          {"address": "198.18.2.1", "id": 2, "flags": ["signal"]},
                          {"address": "2001:db8:1::1", "id": 3, "flags": ["subflow", "backup"]}]}
    first = module_runner("mptcp_path_manager", args)
    assert (first["changed"], first["backend"]) == (True, backend), first
    assert first["changes"] == ["set limits: subflows 2 -> 4, add_addr_accepted 0 -> 2",
                                "add endpoint 198.18.1.1 id 1 subflow dev e1",
                                "add endpoint 198.18.2.1 id 2 signal",
                                "add endpoint 2001:db8:1::1 id 3 subflow backup"]
    expected = {("198.18.1.1", 0): (1, "e1", bits("subflow")), ("198.18.2.1", 0): (2, None, bits("signal")),
                ("2001:db8:1::1", 0): (3, None, bits("subflow", "backup"))}
    assert ns.limits() == {"subflows": 4, "add_addr_accepted": 2}
    assert oracle(ns) == expected
    assert first["limits"] == {"subflows": 4, "add_addr_accepted": 2}
    assert first["endpoints"] == [
        {"id": 1, "address": "198.18.1.1", "port": None, "dev": "e1", "flags": ["subflow"]},
        {"id": 2, "address": "198.18.2.1", "port": None, "dev": None, "flags": ["signal"]},
        {"id": 3, "address": "2001:db8:1::1", "port": None, "dev": None, "flags": ["subflow", "backup"]}]
    assert first["diff"] == {
        "before": {"subflows": 2, "add_addr_accepted": 0, "endpoints": []},
        "after": {"subflows": 4, "add_addr_accepted": 2,
                  "endpoints": ["198.18.1.1 id 1 subflow dev e1", "198.18.2.1 id 2 signal",
                                "2001:db8:1::1 id 3 subflow backup"]},
        "before_header": "MPTCP path manager before (netns %s)" % ns.name,
        "after_header": "MPTCP path manager after (netns %s)" % ns.name}
    after = state(ns)
    second = module_runner("mptcp_path_manager", args)
    assert (second["changed"], second["changes"]) == (False, [])
    assert second["diff"]["before"] == second["diff"]["after"] == first["diff"]["after"]
    assert state(ns) == after


def test_check_mode_predicts_the_real_run_and_changes_nothing(busy, backend, module_runner):
    busy.ip("mptcp", "endpoint", "add", "198.18.2.1", "id", "3", "subflow")
    args = {"netns": busy.name, "backend": backend, "limits": {"subflows": 4}, "exclusive": True,
            "endpoints": [{"address": "198.18.1.1", "flags": ["subflow", "backup"]},
                          {"address": "198.18.2.1", "flags": ["signal"]},
                          {"address": "198.18.2.9", "id": 9, "flags": ["subflow"]}]}
    before = state(busy)
    predicted = module_runner("mptcp_path_manager", args, check_mode=True)
    assert state(busy) == before
    assert predicted["changed"] is True
    assert predicted["changes"] == [
        "set limits: subflows 3 -> 4",
        "delete endpoint 198.18.9.9 id 2 signal: not listed (exclusive)",
        "delete endpoint 198.18.2.1 id 3 subflow: to add it again: flags subflow -> signal",
        "change endpoint 198.18.1.1 id 1 subflow dev e1 in place: flags subflow -> subflow backup",
        "add endpoint 198.18.2.1 id 3 signal",
        "add endpoint 198.18.2.9 id 9 subflow"]
    real = module_runner("mptcp_path_manager", args)
    for key in ("changed", "changes", "warnings", "limits", "endpoints", "diff"):
        assert predicted[key] == real[key], key
    assert busy.limits() == {"subflows": 4, "add_addr_accepted": 1}
    assert oracle(busy) == {("198.18.1.1", 0): (1, "e1", bits("subflow", "backup")),
                            ("198.18.2.1", 0): (3, None, bits("signal")),
                            ("198.18.2.9", 0): (9, None, bits("subflow"))}
    assert module_runner("mptcp_path_manager", args, check_mode=True)["changed"] is False


def test_only_limits_given_leaves_the_endpoints_alone(busy, backend, module_runner):
    endpoints = busy.endpoints()
    result = module_runner("mptcp_path_manager", {"netns": busy.name, "backend": backend,
                                                  "limits": {"add_addr_accepted": 4}})
    assert result["changed"] is True and result["changes"] == ["set limits: add_addr_accepted 1 -> 4"]
    assert busy.limits() == {"subflows": 3, "add_addr_accepted": 4}
    assert busy.endpoints() == endpoints
    assert "endpoints" not in result and result["limits"] == {"subflows": 3, "add_addr_accepted": 4}
    assert result["diff"]["before"] == {"subflows": 3, "add_addr_accepted": 1}
    assert result["diff"]["after"] == {"subflows": 3, "add_addr_accepted": 4}
    assert result["diff"]["before_header"] == "MPTCP limits before (netns %s)" % busy.name


def test_only_endpoints_given_leave_the_limits_alone(busy, backend, module_runner):
    result = module_runner("mptcp_path_manager", {"netns": busy.name, "backend": backend,
                                                  "endpoints": [{"address": "198.18.2.1", "id": 5, "flags": ["signal"]}]})
    assert result["changed"] is True and result["changes"] == ["add endpoint 198.18.2.1 id 5 signal"]
    assert busy.limits() == {"subflows": 3, "add_addr_accepted": 1}
    assert oracle(busy) == {("198.18.1.1", 0): (1, "e1", bits("subflow")), ("198.18.9.9", 0): (2, None, bits("signal")),
                            ("198.18.2.1", 0): (5, None, bits("signal"))}
    assert "limits" not in result
    assert set(result["diff"]["before"]) == set(result["diff"]["after"]) == {"endpoints"}
    assert result["diff"]["before_header"] == "MPTCP endpoints before (netns %s)" % busy.name


# --- exclusive, and the kernel's implicit endpoints -----------------------------------------

SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.11.2", 5201))
s.listen()
print("listening", flush=True)
c, _ = s.accept()
c.recv(1)
sys.stdin.read()
"""
CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(("198.18.11.2", 5201))
s.sendall(b"x")
print("connected", flush=True)
sys.stdin.read()
"""


def peer(netns, script, says):
    proc = subprocess.Popen(["ip", "netns", "exec", netns.name, sys.executable, "-c", script],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != says:
        proc.kill()
        raise AssertionError("the peer in %s did not start" % netns.name)
    return proc


def make_implicit_endpoint(client, make_netns):
    """A server namespace joined to `client` by two veth pairs (198.18.11.0/24 and
    198.18.12.0/24) that announces its second address over an MPTCP connection: the
    client's kernel then makes an `implicit` endpoint for its own 198.18.12.1, which no
    endpoint named. It stays after the connection ends."""
    server = make_netns()
    for index in (1, 2):
        client.link_to(server, "c%d" % index, "s%d" % index, "198.18.1%d.1/24" % index, "198.18.1%d.2/24" % index)
    client.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
    server.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
    server.ip("mptcp", "endpoint", "add", "198.18.12.2", "signal")
    listening = peer(server, SERVER, "listening")
    try:
        connected = peer(client, CLIENT, "connected")
        try:
            deadline = time.time() + 10
            while not any(flag_bits(e) & BITS["implicit"] for e in client.endpoints()) and time.time() < deadline:
                time.sleep(0.05)
        finally:
            connected.communicate("", timeout=10)
    finally:
        listening.communicate("", timeout=10)
    implicit = [e for e in client.endpoints() if flag_bits(e) & BITS["implicit"]]
    assert [e["address"] for e in implicit] == ["198.18.12.1"], client.endpoints()
    return implicit[0]


def test_exclusive_without_endpoints_removes_every_endpoint_but_the_implicit_ones(netns, make_netns, backend,
                                                                                  module_runner):
    netns.ip("mptcp", "endpoint", "add", "198.18.1.1", "id", "1", "subflow")
    netns.ip("mptcp", "endpoint", "add", "198.18.9.9", "id", "2", "signal")
    implicit = make_implicit_endpoint(netns, make_netns)
    limits = netns.limits()
    args = {"netns": netns.name, "backend": backend, "exclusive": True}
    result = module_runner("mptcp_path_manager", args)
    assert result["changed"] is True, result
    assert result["changes"] == ["delete endpoint 198.18.1.1 id 1 subflow: not listed (exclusive)",
                                 "delete endpoint 198.18.9.9 id 2 signal: not listed (exclusive)"]
    assert oracle(netns) == {("198.18.12.1", 0): (implicit["id"], None, bits("implicit"))}
    assert result["endpoints"] == [{"id": implicit["id"], "address": "198.18.12.1", "port": None, "dev": None,
                                    "flags": ["implicit"]}]
    assert netns.limits() == limits and "limits" not in result
    again = module_runner("mptcp_path_manager", args)
    assert (again["changed"], again["changes"]) == (False, [])


# --- a step refused mid-batch undoes the whole batch, limits included -----------------------

def test_an_interface_removed_before_its_endpoint_is_added_undoes_the_limits_too(busy, backend):
    before = state(busy)
    opened = open_backend(backend, busy.name, busy.ip_runner, IP)
    try:
        with pytest.raises(MptcpError) as caught:
            ensure_path_manager(
                RemovesALink(opened, busy, "e2"), False, busy.name,
                limits=validate_limits(label="limits.", subflows=4, add_addr_accepted=2),
                endpoints=validate_endpoints([{"address": "198.18.1.1", "flags": ["subflow", "backup"]},
                                              {"address": "198.18.2.1", "id": 3, "dev": "e2", "flags": ["subflow"]}],
                                             "present"),
                exclusive=True)
    finally:
        opened.close()
    message = str(caught.value)
    assert "adding endpoint 198.18.2.1 id 3 subflow dev e2 failed" in message, message
    assert "e2" in message.split("failed", 1)[1], message
    assert ("The 3 step(s) already done were undone: set limits: subflows 3 -> 4, add_addr_accepted 1 -> 2; "
            "delete endpoint 198.18.9.9 id 2 signal: not listed (exclusive); "
            "change endpoint 198.18.1.1 id 1 subflow dev e1 in place") in message, message
    assert state(busy) == before


def test_a_step_the_kernel_refuses_undoes_the_limits_too(busy, backend, module_runner):
    """198.18.77.7 is not on this host, so the kernel cannot listen on its port
    (EADDRNOTAVAIL) after the limits, a delete and an add already went through."""
    before = state(busy)
    result = module_runner("mptcp_path_manager", {
        "netns": busy.name, "backend": backend, "exclusive": True,
        "limits": {"subflows": 5, "add_addr_accepted": 3},
        "endpoints": [{"address": "198.18.1.1", "id": 1, "dev": "e1", "flags": ["subflow"]},
                      {"address": "198.18.2.1", "id": 3, "flags": ["subflow"]},
                      {"address": "198.18.77.7", "id": 4, "port": 8080, "flags": ["signal"]}]})
    assert result["failed"] is True and not result.get("changed"), result
    assert result["backend"] == backend
    message = result["msg"]
    assert "adding endpoint 198.18.77.7 port 8080 id 4 signal failed" in message and "EADDRNOTAVAIL" in message
    assert message.endswith(
        "The 3 step(s) already done were undone: set limits: subflows 3 -> 5, add_addr_accepted 1 -> 3; "
        "delete endpoint 198.18.9.9 id 2 signal: not listed (exclusive); add endpoint 198.18.2.1 id 3 subflow."), message
    assert state(busy) == before


# --- bad inputs: refused before anything is touched -----------------------------------------

BAD = [
    ("limits above eight", {"limits": {"subflows": 9}, "endpoints": [{"address": "198.18.2.1", "flags": ["signal"]}]},
     "limits.subflows=9 is out of range: the kernel accepts 0 to 8 (it rejects larger limits)"),
    ("limits negative", {"limits": {"subflows": 4, "add_addr_accepted": -1}},
     "limits.add_addr_accepted=-1 is out of range"),
    ("bad address", {"limits": {"subflows": 4}, "endpoints": [{"address": "198.18.2.1"}, {"address": "198.18.2.300"}]},
     "endpoints[1].address='198.18.2.300' is not an IPv4 or IPv6 address"),
    ("signal with fullmesh", {"limits": {"subflows": 4}, "exclusive": True,
                              "endpoints": [{"address": "198.18.2.1", "flags": ["signal", "fullmesh"]}]},
     "endpoints[0].flags=['signal', 'fullmesh']: signal and fullmesh cannot be combined"),
    ("address listed twice", {"limits": {"subflows": 4}, "exclusive": True,
                              "endpoints": [{"address": "198.18.2.1", "flags": ["signal"]},
                                            {"address": "198.18.2.1", "flags": ["subflow"]}]},
     "endpoints[1].address 198.18.2.1 is listed twice (also endpoints[0])"),
    ("id listed twice", {"limits": {"subflows": 4},
                         "endpoints": [{"address": "198.18.2.1", "id": 5}, {"address": "198.18.2.2", "id": 5}]},
     "endpoints[1].id 5 is listed twice (also endpoints[0])"),
    ("id held by another", {"limits": {"subflows": 4}, "endpoints": [{"address": "198.18.2.1", "id": 2}]},
     "endpoints[0].id 2 is wanted for 198.18.2.1 but 198.18.9.9 id 2 signal keeps it"),
    ("missing dev", {"limits": {"subflows": 4}, "exclusive": True,
                     "endpoints": [{"address": "198.18.2.1", "dev": "nosuch0", "flags": ["subflow"]}]},
     "endpoints[0].dev='nosuch0' does not exist in netns {ns}"),
    ("a ninth endpoint", {"limits": {"subflows": 8},
                          "endpoints": [{"address": "198.18.3.%d" % i, "flags": ["subflow"]} for i in range(1, 8)]},
     "the result would have 9 endpoints"),
]


@pytest.mark.parametrize("args, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_input_is_refused_naming_its_value_and_nothing_is_touched(busy, backend, module_runner, args, message):
    before = state(busy)
    result = module_runner("mptcp_path_manager", dict(args, netns=busy.name, backend=backend))
    assert result["failed"] is True and not result.get("changed"), result
    assert failed_cleanly(result), result
    assert message.format(ns=busy.name) in result["msg"]
    assert state(busy) == before


@pytest.mark.parametrize("limits", [2, True, [2, 0]], ids=["a number", "a boolean", "a list of numbers"])
def test_limits_not_a_dict_are_refused_cleanly(busy, module_runner, limits):
    before = state(busy)
    result = module_runner("mptcp_path_manager", {"netns": busy.name, "limits": limits})
    assert result["failed"] is True
    assert "module_stderr" not in result and "Traceback" not in result["msg"], result
    assert "limits" in result["msg"]
    assert state(busy) == before


def test_module_fails_clearly_on_a_missing_namespace(backend, module_runner):
    result = module_runner("mptcp_path_manager", {"netns": "mptcp-test-nowhere", "backend": backend,
                                                  "limits": {"subflows": 1}})
    assert result["failed"] is True
    assert result["msg"].startswith("netns 'mptcp-test-nowhere' does not exist")
    assert not os.path.exists("/run/netns/mptcp-test-nowhere")


# --- backend=auto ---------------------------------------------------------------------------

@IP_SIDES
def test_backend_auto_runs_ip_where_it_can_and_pyroute2_for_a_flag_ip_lacks(ns, module_runner, ip_knows_laminar):
    on_side(ip_knows_laminar)
    plain = module_runner("mptcp_path_manager", {
        "netns": ns.name, "limits": {"subflows": 3},
        "endpoints": [{"address": "198.18.1.1", "id": 1, "dev": "e1", "flags": ["subflow", "fullmesh"]}]})
    assert (plain["changed"], plain["backend"]) == (True, "iproute2"), plain
    laminar = module_runner("mptcp_path_manager", {
        "netns": ns.name, "limits": {"add_addr_accepted": 1},
        "endpoints": [{"address": "198.18.2.1", "id": 2, "flags": ["subflow", "laminar"]}]})
    assert (laminar["changed"], laminar["backend"]) == (True, laminar_by(ip_knows_laminar)), laminar
    limits_only = module_runner("mptcp_path_manager", {"netns": ns.name, "limits": {"subflows": 4}})
    assert (limits_only["changed"], limits_only["backend"]) == (True, "iproute2"), limits_only
    assert ns.limits() == {"subflows": 4, "add_addr_accepted": 1}
    assert oracle(ns) == {("198.18.1.1", 0): (1, "e1", bits("subflow", "fullmesh")),
                          ("198.18.2.1", 0): (2, None, bits("subflow", "laminar"))}


def test_the_examples_run_as_written(netns, make_netns, examples_runner):
    """EXAMPLES as a play inside the test namespace (which gets an eth1), with the
    namespace `blue` of the examples replaced by one of the test's own."""
    netns.add_interface("eth1", "192.0.2.10/24")
    blue = make_netns()
    proc = examples_runner("mptcp_path_manager", [("netns: blue", "netns: " + blue.name)], inside_netns=netns.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # All three report changed: the last one, in check mode, finds the drift it is for.
    assert "changed=3" in proc.stdout and "failed=0" in proc.stdout
    assert netns.limits() == {"subflows": 2, "add_addr_accepted": 0}
    # The kernel numbered it: any id.
    assert [(key, dev, flags) for key, (_id, dev, flags) in oracle(netns).items()] == [
        (("198.51.100.2", 0), "eth1", bits("signal"))]
    assert blue.limits() == DEFAULTS and oracle(blue) == {}
