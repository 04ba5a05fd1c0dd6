"""playbooks/drift.yml on a lab of its own: every kind of drift the role mptcp manages,
made by hand on a host, is named in the fleet report (JSON and HTML) with what differs,
the other hosts are reported in sync, and nothing on any host changes.

Six hosts (three servers, three clients, Debian 12 and 13) take the role's variables the
way a user's inventory gives them: lab/mptcp-vars.yml as group_vars/all, and one client,
which owns all of its endpoints (mptcp_endpoints_exclusive), in host_vars. The role is
applied, ten kinds of drift are made by hand, two per host on five hosts (each pair
managed by different tasks), the sixth host is left alone, and drift.yml runs once."""

import json
import os
import re
import secrets
import subprocess

import pytest

import lab_session as shared

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SITE = os.path.join(REPO, "playbooks", "site.yml")
DRIFT = os.path.join(REPO, "playbooks", "drift.yml")
CALLBACK = "mptcp.linux.drift_report"
HOSTS = {"s1": "debian12:mptcp_servers", "s2": "debian13:mptcp_servers", "s3": "debian12:mptcp_servers",
         "c1": "debian13:mptcp_clients", "c2": "debian12:mptcp_clients", "c3": "debian13:mptcp_clients"}
EXCLUSIVE = "c3"

# What the role manages on a host, read with the system's own tools: the oracle for
# "nothing changed". File times are in it, so a rewrite with the same text shows too.
SNAPSHOT = r"""
cat /proc/sys/net/mptcp/enabled /proc/sys/net/mptcp/add_addr_timeout
ip mptcp limits show
ip mptcp endpoint show
for p in lab-eth0 lab-eth1; do nmcli -g connection.mptcp-flags connection show "$p"; done
systemctl is-enabled mptcp-pm.service
for f in /etc/sysctl.d/90-mptcp.conf /etc/systemd/system/mptcp-pm.service \
         /etc/systemd/system/iperf3.service.d/50-mptcp.conf; do
  if [ -e "$f" ]; then stat -c '%n %a %U %Y' "$f"; cat "$f"; else echo "$f missing"; fi
done
"""


class Fleet:
    def __init__(self, lab, report_dir):
        self.lab = lab
        self.report_dir = report_dir
        self.names = dict((short, "%s-%s" % (lab.name, short)) for short in HOSTS)

    def host(self, short):
        return self.names[short]

    def sh(self, short, script):
        return self.lab.exec(self.host(short), "sh", "-ec", script).stdout

    def endpoint_id(self, short, address, port=None):
        for endpoint in json.loads(self.sh(short, "ip -j mptcp endpoint show") or "[]"):
            if endpoint.get("address") == address and endpoint.get("port") == port:
                return endpoint["id"]
        raise AssertionError("%s has no endpoint %s port %s" % (short, address, port))

    def snapshot(self):
        return dict((host, (result.returncode, result.stdout))
                    for host, result in self.lab.exec_all("sh", "-c", SNAPSHOT).items())

    def converge(self):
        run = self.lab.playbook(SITE)
        assert run.returncode == 0, run.stdout + run.stderr

    def drift_check(self, *args, callback=True):
        env = shared._env(MPTCP_DRIFT_REPORT_DIR=self.report_dir, ANSIBLE_CALLBACKS_ENABLED=CALLBACK)
        if not callback:
            # Unset, not empty: ansible-core 2.21 fails on an empty name in that list ("A
            # non-empty plugin name is required").
            del env["ANSIBLE_CALLBACKS_ENABLED"]
        argv = [os.path.join(shared.BIN, "ansible-playbook"), "-i", self.lab.inventory, DRIFT] + list(args)
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        shared.assert_no_deprecation_of_ours(argv, proc.stderr)
        return proc


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    name = "drift-%s" % secrets.token_hex(2)
    specs = []
    for short, spec in HOSTS.items():
        specs += ["--host", "%s-%s=%s" % (name, short, spec)]
    try:
        subnets = shared.free_subnets(name)
        shared._lab(name, "up", *(specs + ["--subnet", subnets[0], "--subnet", subnets[1], "--mgmt-subnet", subnets[2]]))
        lab = shared.Lab(name, dict(("%s-%s" % (name, short), spec.split(":", maxsplit=1)[0])
                                    for short, spec in HOSTS.items()))
        fleet = Fleet(lab, str(tmp_path_factory.mktemp("drift-report")))
        write_inventory_vars(fleet)
        fleet.converge()
        yield fleet
    finally:
        shared._lab(name, "down", check=False)


def write_inventory_vars(fleet):
    """The role's variables as a user's inventory gives them: group_vars/all is the lab's
    vars file; the exclusive client owns both its endpoints and NetworkManager adds none."""
    inventory_dir = os.path.dirname(fleet.lab.inventory)
    os.makedirs(os.path.join(inventory_dir, "group_vars"))
    os.symlink(os.path.join(REPO, "lab", "mptcp-vars.yml"), os.path.join(inventory_dir, "group_vars", "all.yml"))
    host = fleet.host(EXCLUSIVE)
    os.makedirs(os.path.join(inventory_dir, "host_vars"))
    with open(os.path.join(inventory_dir, "host_vars", host + ".yml"), "w") as handle:
        json.dump({
            "mptcp_endpoints_exclusive": True,
            "mptcp_nm_profiles": [{"name": "lab-eth0", "flags": ["disabled"]},
                                  {"name": "lab-eth1", "flags": ["disabled"]}],
            "mptcp_endpoints": [
                {"address": fleet.lab.address(host, iface), "dev": iface, "flags": ["subflow"]}
                for iface in ("eth0", "eth1")],
        }, handle)


class Drift:
    """One kind of drift: made on a host by hand, then expected in the report as a
    difference of `action` with a line matching `line`, and still there afterwards."""

    def __init__(self, kind, host, make, action, line, still):
        self.kind, self.host, self.make, self.action, self.line, self.still = (
            kind, host, make, action, line, still)


def eth1(fleet, short):
    return re.escape(fleet.lab.address(fleet.host(short), "eth1"))


DRIFTS = [
    Drift("sysctl changed by hand", "s1",
          lambda f: f.sh("s1", "sysctl -w net.mptcp.add_addr_timeout=30"),
          "mptcp.linux.mptcp_sysctl", lambda f: r"^net\.mptcp\.add_addr_timeout: 30 -> 60$",
          lambda f: f.sh("s1", "cat /proc/sys/net/mptcp/add_addr_timeout").strip() == "30"),
    Drift("sysctl file edited", "c3",
          lambda f: f.sh("c3", "sed -i 's/add_addr_timeout = 60/add_addr_timeout = 90/' /etc/sysctl.d/90-mptcp.conf"),
          "mptcp.linux.mptcp_sysctl", lambda f: r"^/etc/sysctl\.d/90-mptcp\.conf: -net\.mptcp\.add_addr_timeout = 90$",
          lambda f: "add_addr_timeout = 90" in f.sh("c3", "cat /etc/sysctl.d/90-mptcp.conf")),
    Drift("limit changed", "c1",
          lambda f: f.sh("c1", "ip mptcp limits set subflows 4 add_addr_accepted 1"),
          "mptcp.linux.mptcp_path_manager", lambda f: r"^subflows: 4 -> 2$",
          lambda f: "subflows 4" in f.sh("c1", "ip mptcp limits show")),
    Drift("endpoint reflagged", "s2",
          lambda f: f.sh("s2", "ip mptcp endpoint change id %d backup"
                         % f.endpoint_id("s2", f.lab.address(f.host("s2"), "eth1"))),
          "mptcp.linux.mptcp_path_manager", lambda f: r"^endpoints: - %s id \d+ signal backup dev eth1$" % eth1(f, "s2"),
          lambda f: "backup" in f.sh("s2", "ip mptcp endpoint show")),
    Drift("NetworkManager profile's flags", "c2",
          lambda f: f.sh("c2", "nmcli connection modify lab-eth1 connection.mptcp-flags subflow"),
          "mptcp.linux.nm_mptcp_flags", lambda f: r"^lab-eth1: subflow -> disabled$",
          lambda f: f.sh("c2", "nmcli -g connection.mptcp-flags connection show lab-eth1").strip() in ("0x20", "32", "subflow")),
    Drift("unit removed", "s1",
          lambda f: f.sh("s1", "systemctl disable mptcp-pm.service; rm /etc/systemd/system/mptcp-pm.service; "
                               "systemctl daemon-reload"),
          "mptcp.linux.mptcp_systemd", lambda f: r"^/etc/systemd/system/mptcp-pm\.service: missing, would be written$",
          lambda f: "missing" in f.sh("s1", "test -e /etc/systemd/system/mptcp-pm.service || echo missing")),
    Drift("unit disabled", "c2",
          lambda f: f.sh("c2", "systemctl disable mptcp-pm.service"),
          "mptcp.linux.mptcp_systemd", lambda f: r"^systemctl is-enabled mptcp-pm\.service: disabled -> enabled$",
          lambda f: f.lab.exec(f.host("c2"), "systemctl", "is-enabled", "mptcp-pm.service",
                               check=False).stdout.strip() == "disabled"),
    Drift("drop-in removed", "s2",
          lambda f: f.sh("s2", "rm /etc/systemd/system/iperf3.service.d/50-mptcp.conf"),
          "mptcp.linux.mptcp_systemd",
          lambda f: r"^/etc/systemd/system/iperf3\.service\.d/50-mptcp\.conf: missing, would be written$",
          lambda f: "missing" in f.sh("s2", "test -e /etc/systemd/system/iperf3.service.d/50-mptcp.conf "
                                            "|| echo missing")),
    Drift("endpoint removed", "c1",
          lambda f: f.sh("c1", "ip mptcp endpoint delete id %d"
                         % f.endpoint_id("c1", f.lab.address(f.host("c1"), "eth1"))),
          "mptcp.linux.mptcp_path_manager", lambda f: r"^endpoints: \+ %s .*subflow dev eth1$" % eth1(f, "c1"),
          lambda f: f.lab.address(f.host("c1"), "eth1") not in f.sh("c1", "ip mptcp endpoint show")),
    Drift("endpoint added", EXCLUSIVE,
          lambda f: f.sh(EXCLUSIVE, "ip mptcp endpoint add %s port 5555 signal"
                         % f.lab.address(f.host(EXCLUSIVE), "eth1")),
          "mptcp.linux.mptcp_path_manager", lambda f: r"^endpoints: - %s port 5555 .*signal" % eth1(f, EXCLUSIVE),
          lambda f: "port 5555" in f.sh(EXCLUSIVE, "ip mptcp endpoint show")),
]
IN_SYNC = "s3"


@pytest.fixture(scope="module")
def checked(fleet):
    """The drift made on every host but one, the state snapshots around the drift check,
    and the report it wrote: (report, page, before, after)."""
    for drift in DRIFTS:
        drift.make(fleet)
    before = fleet.snapshot()
    run = fleet.drift_check()
    assert run.returncode == 0, run.stdout + run.stderr
    after = fleet.snapshot()
    with open(os.path.join(fleet.report_dir, "drift.json")) as handle:
        report = json.load(handle)
    with open(os.path.join(fleet.report_dir, "drift.html")) as handle:
        page = handle.read()
    return report, page, before, after


@pytest.mark.parametrize("drift", DRIFTS, ids=[d.kind for d in DRIFTS])
def test_drift_is_reported_and_left_alone(fleet, checked, drift):
    report, page, _before, _after = checked
    name = fleet.host(drift.host)
    host = report["hosts"][name]
    assert host["status"] == "drifted", host
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", host["checked_at"])
    found = [d for d in host["differences"] if d["action"] == drift.action]
    assert len(found) == 1, host["differences"]
    pattern = drift.line(fleet)
    assert any(re.search(pattern, line) for line in found[0]["changes"]), (pattern, found[0]["changes"])
    row = re.search(r'<tr data-host="%s" data-status="drifted">.*?</tr>' % re.escape(name), page, re.S)
    assert row and drift.action in row.group(0), page
    assert drift.still(fleet), "%s: the drift is gone, the check changed the host" % drift.kind


def test_only_what_drifted_differs(fleet, checked):
    """Each host's differences are those of the tasks that manage what was changed by
    hand, and no others; the host left alone is in sync."""
    report, page, _before, _after = checked
    expected = dict((name, set()) for name in fleet.names.values())
    for drift in DRIFTS:
        expected[fleet.host(drift.host)].add(drift.action)
    assert dict((name, set(d["action"] for d in host["differences"]))
                for name, host in report["hosts"].items()) == expected
    in_sync = report["hosts"][fleet.host(IN_SYNC)]
    assert in_sync["status"] == "in_sync" and in_sync["error"] is None
    assert '<tr data-host="%s" data-status="in_sync">' % fleet.host(IN_SYNC) in page
    assert report["summary"] == {"hosts": 6, "in_sync": 1, "drifted": 5, "failed": 0, "unreachable": 0}


def test_the_check_changed_nothing(checked):
    _report, _page, before, after = checked
    assert after == before


def test_refuses_to_run_without_its_callback(fleet, checked):
    run = fleet.drift_check("--limit", fleet.host(IN_SYNC), callback=False)
    assert run.returncode != 0
    assert "ANSIBLE_CALLBACKS_ENABLED=mptcp.linux.drift_report" in run.stdout
