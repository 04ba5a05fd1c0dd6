"""Paths that come back, on the lab's routed-single-homed topology (a Debian 13 client with
two uplinks, eth0 through r1 and eth1 through r2, to a Debian 12 server with one address):
during an open transfer the verify playbook (mptcp_verify_rejoin) takes the client's eth1
away until its subflow closed, gives it back, and times until the connection uses it
again; verify fails where that takes more than mptcp_verify_rejoin_max_seconds (5).

- Without NetworkManager (stopped on the client) and with mptcp-rejoin (the role's
  mptcp_rejoin: true): eth1's addresses removed and added back, the path is used again.
- Without either: it is not, and verify says so and fails.
- With NetworkManager running and the role's own split (NetworkManager owns eth0's
  endpoint, the role eth1's) and mptcp-rejoin: the address removed and added back, the
  path is used again.
- With NetworkManager owning eth1's endpoint, source route and rule (its profile's
  mptcp-flags, routes and routing rules), no mptcp-rejoin: NetworkManager's own way
  (`nmcli device disconnect` and `connect`) gives the path back; an address removed and
  added back behind its back does not (it leaves its endpoint as it was).

The oracle is the kernel's own account, `ip mptcp monitor` on the client during the run:
SF_ESTABLISHED from eth1's address, SF_CLOSED, SF_ESTABLISHED again (or not). The client
has net.ipv4.tcp_retries2=3 (its own namespace's), so that a subflow whose packets go
nowhere is reset within about 3 s instead of TCP's 15 minutes. Times are printed (-s)."""

import json
import os
import secrets
import subprocess

import pytest

from lab_session import REPO, Lab, _env, _lab

LAB_SUBNETS = ["198.19.26.0/24", "198.19.27.0/24", "198.19.28.0/24"]
MGMT_SUBNET = "198.19.29.0/24"
VERIFY = os.path.join(REPO, "playbooks", "verify.yml")
ROUTED_VARS = os.path.join(REPO, "lab", "routed-vars.yml")
VERIFY_VARS = os.path.join(REPO, "lab", "routed-verify-vars.yml")
ROLE_PLAY = """
- name: Set up MPTCP, mptcp-rejoin on the client
  hosts: mptcp_clients:mptcp_servers
  gather_facts: false
  vars_files: [%s]
  vars:
    mptcp_rejoin: "{{ 'mptcp_clients' in group_names }}"
  roles:
    - role: mptcp.linux.mptcp
""" % ROUTED_VARS


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    name = "hr-rj-%s" % secrets.token_hex(2)
    try:
        _lab(name, "up", "--topology", "routed-single-homed", "--subnet", LAB_SUBNETS[0], "--subnet", LAB_SUBNETS[1],
             "--subnet", LAB_SUBNETS[2], "--mgmt-subnet", MGMT_SUBNET)
        lab = Lab(name, {"%s-sh-client" % name: "debian13", "%s-sh-server" % name: "debian12"})
        lab.client, lab.server = "%s-sh-client" % name, "%s-sh-server" % name
        lab.dir = str(tmp_path_factory.mktemp("rejoin"))
        role = os.path.join(lab.dir, "role.yml")
        with open(role, "w") as handle:
            handle.write(ROLE_PLAY)
        proc = lab.playbook(role)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        lab.exec(lab.client, "sysctl", "-qw", "net.ipv4.tcp_retries2=3")
        assert lab.exec(lab.client, "systemctl", "is-active", "mptcp-rejoin.service").stdout.strip() == "active"
        yield lab
    finally:
        _lab(name, "down", check=False)


def verify(lab, away, bound=5):
    """verify.yml with only the rejoin transfer of eth1 -> (playbook process, the pair's
    rejoin entry of the report, the monitor's lines about eth1's address)."""
    report = os.path.join(lab.dir, "verify-%s.json" % secrets.token_hex(2))
    extra = {"mptcp_verify_compare_tcp": False, "mptcp_verify_failover": False, "mptcp_verify_min_ratio": None,
             "mptcp_verify_rejoin": True, "mptcp_verify_rejoin_interfaces": ["eth1"], "mptcp_verify_rejoin_away": away,
             "mptcp_verify_rejoin_max_seconds": bound, "mptcp_verify_report": report}
    monitor = subprocess.Popen(["podman", "exec", lab.client, "timeout", "120", "ip", "mptcp", "monitor"],
                               stdout=subprocess.PIPE, text=True, env=_env())
    try:
        proc = lab.playbook(VERIFY, "-e", "@" + VERIFY_VARS, "-e", json.dumps(extra))
    finally:
        monitor.terminate()
        lines = monitor.communicate()[0].splitlines()
    with open(report) as handle:
        (pair,) = json.load(handle)["pairs"]
    (rejoin,) = pair["rejoin"]
    address = lab.address(lab.client, "eth1")
    # The rejoin transfer is the play's last connection (the plain MPTCP one runs first).
    tokens = [word for line in lines for word in line.split() if word.startswith("token=")]
    last = [line for line in lines if tokens and " %s " % tokens[-1] in line]
    return proc, rejoin, [line for line in last if "saddr4=%s " % address in line]


def kinds(events):
    return [line.split("]")[0].strip("[ ") for line in events]


def show(capsys, what, rejoin):
    with capsys.disabled():
        print("\n%s: rejoined %s after %s s (subflow closed %s s after it went)" % (
            what, rejoin["rejoined"], rejoin["rejoin_seconds"], rejoin["closed_after_seconds"]))


def test_without_networkmanager_mptcp_rejoin_gives_the_path_back(routed, capsys):
    routed.exec(routed.client, "systemctl", "stop", "NetworkManager.service")
    proc, rejoin, events = verify(routed, "address")
    show(capsys, "without NetworkManager, with mptcp-rejoin", rejoin)
    assert kinds(events)[:3] == ["SF_ESTABLISHED", "SF_CLOSED", "SF_ESTABLISHED"], events
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert rejoin["subflow_closed"] and rejoin["rejoined"] and rejoin["new_subflow"], rejoin


def test_without_networkmanager_and_without_mptcp_rejoin_it_is_not_used_again_and_verify_fails(routed):
    routed.exec(routed.client, "systemctl", "stop", "mptcp-rejoin.service")
    proc, rejoin, events = verify(routed, "address")
    assert kinds(events).count("SF_ESTABLISHED") == 1 and "SF_CLOSED" in kinds(events), events
    assert rejoin["subflow_closed"] and not rejoin["rejoined"], rejoin
    assert proc.returncode != 0
    assert "with eth1 taken away (address) and given back: the connection did not use it again (within 5 s expected)" \
        in proc.stdout, proc.stdout[-3000:]


def test_with_networkmanager_running_mptcp_rejoin_gives_the_role_s_endpoint_back(routed, capsys):
    """The role's own setup on a host with NetworkManager: NetworkManager owns eth0's
    endpoint, the role eth1's (lab-eth1 at disabled), mptcp-rejoin watches eth1's. An
    address removed and given back behind NetworkManager's back: mptcp-rejoin re-adds
    the endpoint and the path is used again, NetworkManager running beside it."""
    routed.exec(routed.client, "systemctl", "start", "NetworkManager.service")
    routed.exec(routed.client, "systemctl", "start", "mptcp-rejoin.service")
    routed.exec(routed.client, "nm-online", "-s", "-q", "-t", "30")
    proc, rejoin, events = verify(routed, "address")
    show(capsys, "with NetworkManager running, with mptcp-rejoin", rejoin)
    assert routed.exec(routed.client, "systemctl", "is-active", "NetworkManager.service").stdout.strip() == "active"
    assert kinds(events)[:3] == ["SF_ESTABLISHED", "SF_CLOSED", "SF_ESTABLISHED"], events
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert rejoin["subflow_closed"] and rejoin["rejoined"] and rejoin["new_subflow"], rejoin


@pytest.fixture
def networkmanager_owns_eth1(routed):
    """NetworkManager running, eth1's endpoint, source route and rule its profile's (what
    the role had set by itself, handed over), mptcp-rejoin stopped."""
    lab = routed
    gateway = lab.hostvars[lab.client]["lab_gateways"]["eth1"]
    address = lab.address(lab.client, "eth1")
    lab.exec(lab.client, "systemctl", "stop", "mptcp-rejoin.service")
    lab.exec(lab.client, "systemctl", "start", "NetworkManager.service")
    found = json.loads(lab.exec(lab.client, "ip", "-j", "mptcp", "endpoint", "show").stdout)
    for endpoint in found:
        if endpoint.get("address") == address:
            lab.exec(lab.client, "ip", "mptcp", "endpoint", "delete", "id", str(endpoint["id"]))
    lab.exec(lab.client, "ip", "rule", "del", "from", address, check=False)
    lab.exec(lab.client, "nmcli", "connection", "modify", "lab-eth1",
             "ipv4.routes", "0.0.0.0/0 %s table=1000" % gateway,
             "ipv4.routing-rules", "priority 1000 from %s table 1000" % address,
             "connection.mptcp-flags", "enabled,subflow,also-without-default-route")
    lab.exec(lab.client, "nmcli", "device", "reapply", "eth1")
    return lab


def test_with_networkmanager_its_own_disconnect_and_connect_give_the_path_back(networkmanager_owns_eth1, capsys):
    proc, rejoin, events = verify(networkmanager_owns_eth1, "networkmanager")
    show(capsys, "with NetworkManager (nmcli device disconnect/connect)", rejoin)
    assert kinds(events)[:3] == ["SF_ESTABLISHED", "SF_CLOSED", "SF_ESTABLISHED"], events
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert rejoin["rejoined"] and rejoin["new_subflow"], rejoin


def test_with_networkmanager_an_address_removed_behind_its_back_is_not_given_back(networkmanager_owns_eth1):
    proc, rejoin, events = verify(networkmanager_owns_eth1, "address", bound=None)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert kinds(events).count("SF_ESTABLISHED") == 1, events
    assert rejoin["subflow_closed"] and not rejoin["rejoined"], rejoin
