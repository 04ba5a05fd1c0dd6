"""The role's source routing and rp_filter on a lab of its own (issue 18): an endpoint with
a gateway gets its rule and table on the host, kept through the kernel and the boot unit
(Debian 12, mptcp_routing_via: kernel) or through NetworkManager's profile (Debian 13,
auto: NetworkManager manages eth1); a strict rp_filter on the endpoint's interface is made
loose now and at boot; a second run and check mode change nothing; the drift report names
a rule removed by hand; the rules come back after `podman restart`; absent removes it all.

The oracles are the hosts' own tools (`ip -j rule`, `ip -j route`, /proc/sys, the unit
file, `nmcli`), read with `podman exec`."""

import json
import os
import subprocess

import pytest
import yaml

import lab_session as shared

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LAB_PREFIX = "h3-route"
LAB_SUBNETS = ["198.18.90.0/24", "198.18.91.0/24", "198.18.92.0/24"]
DRIFT = os.path.join(REPO, "playbooks", "drift.yml")
UNIT = "/etc/systemd/system/mptcp-pm.service"
CONF = "/etc/sysctl.d/90-mptcp.conf"
TABLE, PRIORITY = 1042, 1042
# The role's one module call, as ansible.posix.json names it ("mptcp.linux.mptcp : NAME"),
# and the parts of its result (mptcp_host's `parts`).
HOST_TASK = "Set MPTCP up, or undo it, in one call"
ROUTING_PART, PATH_MANAGER_PART, SYSTEMD_PART = "routing", "path_manager", "systemd"


def gateway_of(lab, host):
    """An on-link address of eth1's network that nobody has (a network's .1 is this
    machine's bridge): the rules and routes are checked, no packet is sent through it."""
    return lab.address(host, "eth1").rsplit(".", 1)[0] + ".250"


def playbook_text():
    return yaml.safe_dump([{"name": "The role", "hosts": "all", "gather_facts": False,
                            "roles": [{"role": "mptcp.linux.mptcp"}]}])


@pytest.fixture(scope="module")
def routed(own_lab, tmp_path_factory):
    """The lab, the playbook, and the role's variables per host in host_vars: the eth1
    address is the endpoint whose path needs its gateway (gateway_of); Debian 12 keeps it through the kernel with a table and priority of
    its own, Debian 13 lets auto choose (NetworkManager manages eth1 there) and the role
    pick them."""
    directory = tmp_path_factory.mktemp("h3-routing")
    playbook = directory / "role.yml"
    playbook.write_text(playbook_text())
    inventory_dir = os.path.dirname(own_lab.inventory)
    os.makedirs(os.path.join(inventory_dir, "host_vars"), exist_ok=True)
    for host, distro in own_lab.hosts.items():
        kernel = distro == "debian12"
        endpoint = {"address": own_lab.address(host, "eth1"), "dev": "eth1", "gateway": gateway_of(own_lab, host),
                    "flags": ["subflow"]}
        if kernel:
            endpoint.update(table=TABLE, priority=PRIORITY)
        with open(os.path.join(inventory_dir, "host_vars", host + ".yml"), "w") as handle:
            json.dump({"mptcp_limits": {"subflows": 2, "add_addr_accepted": 2}, "mptcp_endpoints": [endpoint],
                       "mptcp_routing_via": "kernel" if kernel else "auto"}, handle)
    # RHEL's usual: strict reverse-path filtering, on all and on the endpoint's interface.
    for host in own_lab.hosts:
        own_lab.exec(host, "sh", "-ec", "sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth1.rp_filter=1")
    return own_lab, str(playbook), directory


def kernel_host(lab):
    return next(host for host, distro in lab.hosts.items() if distro == "debian12")


def nm_host(lab):
    return next(host for host, distro in lab.hosts.items() if distro == "debian13")


def rules_from(lab, host, address):
    return [rule for rule in json.loads(lab.exec(host, "ip", "-j", "rule", "show").stdout or "[]")
            if rule.get("src") == address]


def default_routes(lab, host, table):
    """The default routes of a table; none where the kernel has no such table (IPv4 says
    "FIB table does not exist" for one never filled, as after a reboot without the unit)."""
    shown = lab.exec(host, "ip", "-j", "route", "show", "table", str(table), check=False)
    if shown.returncode != 0:
        assert "FIB table does not exist" in shown.stderr, shown.stderr
        return []
    return [route for route in json.loads(shown.stdout or "[]") if route.get("dst") == "default"]


def rp_filter(lab, host, iface):
    return lab.exec(host, "cat", "/proc/sys/net/ipv4/conf/%s/rp_filter" % iface).stdout.strip()


def cat(lab, host, path):
    result = lab.exec(host, "cat", path, check=False)
    return result.stdout if result.returncode == 0 else None


def snapshot(lab):
    """Everything the role touches here, read by the hosts' own tools."""
    script = ("ip -j rule show; ip -j route show table all; ip mptcp endpoint show; ip mptcp limits show; "
              "cat /proc/sys/net/ipv4/conf/eth1/rp_filter; cat %s %s 2>&1; "
              "nmcli -g ipv4.routing-rules,ipv4.routes connection show lab-eth1; stat -c %%Y %s %s 2>&1"
              % (CONF, UNIT, CONF, UNIT))
    return dict((host, result.stdout) for host, result in lab.exec_all("sh", "-c", script).items())


def run_role(routed, *args):
    lab, playbook, _directory = routed
    return lab.json_playbook(playbook, *args)


def changed_tasks(report):
    found = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("changed"):
                    found.append((host, task["task"]["name"]))
    return found


def failures(report):
    return [(host, task["task"]["name"], result.get("msg")) for play in report["plays"] for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed")]


def host_results(report):
    """{host: mptcp_host's result} of the role's one module call."""
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith(HOST_TASK):
                return task["hosts"]
    raise AssertionError("the role did not run its module call")


def part_names(result, changed_only=False):
    return [part["name"] for part in result["parts"] if part["changed"] or not changed_only]


def routing_results(report):
    """{host: the routing part's result}."""
    results = {}
    for host, result in host_results(report).items():
        (results[host],) = [part for part in result["parts"] if part["name"] == ROUTING_PART]
    return results


@pytest.fixture(scope="module")
def converged(routed):
    report = run_role(routed)
    assert failures(report) == [], failures(report)
    return report


def test_each_gateway_endpoint_gets_its_rule_and_table_before_its_endpoint(routed, converged):
    lab, _playbook, _directory = routed
    results = routing_results(converged)
    for host in lab.hosts:
        address = lab.address(host, "eth1")
        (route,) = results[host]["routes"]
        rules = rules_from(lab, host, address)
        assert [(rule["table"], rule["priority"]) for rule in rules] == [(str(route["table"]), route["priority"])], rules
        (default,) = default_routes(lab, host, route["table"])
        assert (default["gateway"], default["dev"]) == (gateway_of(lab, host), "eth1")
        # The path manager got the endpoint, without the routing keys.
        endpoints = json.loads(lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout)
        # iproute2's JSON gives each flag as `"name": true`.
        assert [(e["address"], e.get("dev"), sorted(k for k, v in e.items() if v is True)) for e in endpoints
                if e["address"] == address] == [(address, "eth1", ["subflow"])]
    assert results[kernel_host(lab)]["routes"][0]["table"] == TABLE
    assert results[kernel_host(lab)]["routes"][0]["via"] == "kernel"
    assert results[nm_host(lab)]["routes"][0]["via"] == "networkmanager"
    # Routing before the path manager's endpoints: the order of mptcp_host's parts.
    for host, result in host_results(converged).items():
        names = part_names(result)
        assert names.index(ROUTING_PART) < names.index(PATH_MANAGER_PART), (host, names)


def test_the_boot_unit_sets_the_kernel_routes_first_and_none_kept_by_networkmanager(routed, converged):
    lab, _playbook, _directory = routed
    host = kernel_host(lab)
    address = lab.address(host, "eth1")
    lines = [line for line in cat(lab, host, UNIT).splitlines() if line.startswith("ExecStart")]
    rule = next(i for i, line in enumerate(lines) if '"rule"' in line and '"%s"' % address in line)
    route = next(i for i, line in enumerate(lines) if '"route"' in line and '"%s"' % gateway_of(lab, host) in line)
    endpoint = next(i for i, line in enumerate(lines) if '"endpoint" "add"' in line)
    assert rule < endpoint and route < endpoint, lines
    assert '"%d"' % TABLE in lines[rule] and '"%d"' % PRIORITY in lines[rule]
    other = nm_host(lab)
    other_unit = cat(lab, other, UNIT)
    assert '"rule"' not in other_unit and '"route"' not in other_unit, other_unit
    nm_rules = lab.exec(other, "nmcli", "-g", "ipv4.routing-rules", "connection", "show", "lab-eth1").stdout
    assert "from %s" % lab.address(other, "eth1") in nm_rules, nm_rules


def test_strict_rp_filter_on_the_endpoints_interface_is_made_loose_now_and_in_the_file(routed, converged):
    lab, _playbook, _directory = routed
    for host in lab.hosts:
        assert rp_filter(lab, host, "eth1") == "2"
        assert rp_filter(lab, host, "all") == "1"  # only the endpoint's interface
        assert rp_filter(lab, host, "eth0") in ("0", "2")  # no endpoint there: untouched
        assert "net.ipv4.conf.eth1.rp_filter = 2\n" in cat(lab, host, CONF)


def test_a_second_run_changes_nothing(routed, converged):
    lab, _playbook, _directory = routed
    before = snapshot(lab)
    report = run_role(routed)
    assert failures(report) == [] and changed_tasks(report) == []
    assert snapshot(lab) == before


def test_check_mode_of_another_gateway_reports_it_and_changes_nothing(routed, converged):
    lab, _playbook, directory = routed
    before = snapshot(lab)
    host = kernel_host(lab)
    other_gateway = gateway_of(lab, host).rsplit(".", 1)[0] + ".251"
    extra = directory / "other-gateway.json"
    extra.write_text(json.dumps({"mptcp_endpoints": [{"address": lab.address(host, "eth1"), "dev": "eth1",
                                                      "gateway": other_gateway, "table": TABLE + 1,
                                                      "priority": PRIORITY + 1, "flags": ["subflow"]}]}))
    report = run_role(routed, "--check", "--diff", "--limit", host, "-e", "@%s" % extra)
    assert failures(report) == [], failures(report)
    changed = part_names(host_results(report)[host], changed_only=True)
    assert ROUTING_PART in changed and SYSTEMD_PART in changed, changed
    assert snapshot(lab) == before


def test_the_drift_report_names_a_rule_removed_by_hand(routed, converged, tmp_path):
    lab, _playbook, _directory = routed
    host = kernel_host(lab)
    lab.exec(host, "ip", "rule", "del", "priority", str(PRIORITY))
    env = shared._env(MPTCP_DRIFT_REPORT_DIR=str(tmp_path), ANSIBLE_CALLBACKS_ENABLED="mptcp.linux.drift_report")
    argv = [os.path.join(shared.BIN, "ansible-playbook"), "-i", lab.inventory, DRIFT]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    shared.assert_no_deprecation_of_ours(argv, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "drift.json").read_text())
    assert report["hosts"][nm_host(lab)]["status"] == "in_sync", report["hosts"][nm_host(lab)]
    drifted = report["hosts"][host]
    assert drifted["status"] == "drifted"
    actions = [difference["action"] for difference in drifted["differences"]]
    assert actions == ["mptcp.linux.mptcp_source_routing"], drifted["differences"]
    lines = drifted["differences"][0]["changes"]
    assert any(lab.address(host, "eth1") in line for line in lines), lines
    assert rules_from(lab, host, lab.address(host, "eth1")) == []  # the check changed nothing
    report = run_role(routed, "--limit", host)
    assert failures(report) == []
    assert len(rules_from(lab, host, lab.address(host, "eth1"))) == 1


def test_rules_routes_and_loose_rp_filter_come_back_after_a_reboot(routed, converged):
    lab, _playbook, _directory = routed
    expected = dict((host, routing_results(converged)[host]["routes"][0]) for host in lab.hosts)
    for host in lab.hosts:
        subprocess.run(["podman", "restart", "-t", "5", host], env=shared._env(), check=True, capture_output=True)
    for host in lab.hosts:
        # Booted (running or degraded), NetworkManager's profiles up, the oneshot unit done.
        lab.exec(host, "sh", "-c", "systemctl is-system-running --wait; nm-online -q -t 60; "
                 "systemctl is-active mptcp-pm.service", check=False)
    for host, route in expected.items():
        address = lab.address(host, "eth1")
        rules = rules_from(lab, host, address)
        assert [(rule["table"], rule["priority"]) for rule in rules] == [(str(route["table"]), route["priority"])], \
            (host, rules, lab.exec(host, "systemctl", "status", "mptcp-pm.service", check=False).stdout)
        (default,) = default_routes(lab, host, route["table"])
        assert default["gateway"] == gateway_of(lab, host)
        # all=1 was set by hand and is gone with the reboot; eth1's 2 comes from the file.
        assert rp_filter(lab, host, "eth1") == "2"


def test_leave_warns_of_a_strict_rp_filter_and_changes_it_not(routed, converged):
    lab, playbook, directory = routed
    host = nm_host(lab)
    lab.exec(host, "sh", "-ec", "sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth1.rp_filter=0")
    proc = lab.playbook(playbook, "--limit", host, "-e", "mptcp_rp_filter=leave")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A warning of mptcp_host's (Ansible wraps warnings: the words, not the lines).
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "The reverse-path filter of eth1 on %s is strict" % host in said, said
    assert rp_filter(lab, host, "eth1") == "0" and rp_filter(lab, host, "all") == "1"


def executed_tasks(report, host):
    """The tasks that ran on the host (not skipped): the module calls of the run."""
    return [task["task"]["name"] for play in report["plays"] for task in play["tasks"]
            if host in task["hosts"] and not task["hosts"][host].get("skipped")]


def test_an_endpoint_that_loses_its_gateway_loses_its_rule_table_profile_entry_and_boot_lines(routed, converged, capsys):
    lab, _playbook, directory = routed
    tables = dict((host, routing_results(converged)[host]["routes"][0]["table"]) for host in lab.hosts)
    assert '"rule"' in cat(lab, kernel_host(lab), UNIT)  # the kernel host's unit sets its rule before
    for host in lab.hosts:
        extra = directory / ("no-gateway-%s.json" % host)
        extra.write_text(json.dumps({"mptcp_endpoints": [{"address": lab.address(host, "eth1"), "dev": "eth1",
                                                          "flags": ["subflow"]}]}))
        report = run_role(routed, "--limit", host, "-e", "@%s" % extra)
        assert failures(report) == [], failures(report)
        address = lab.address(host, "eth1")
        assert rules_from(lab, host, address) == []
        assert default_routes(lab, host, tables[host]) == []
        unit = cat(lab, host, UNIT)
        assert '"rule"' not in unit and '"route"' not in unit and address in unit, unit  # the endpoint stays
        nm = lab.exec(host, "nmcli", "-g", "ipv4.routing-rules,ipv4.routes", "connection", "show", "lab-eth1").stdout
        assert "from %s" % address not in nm and "table=%d" % tables[host] not in nm, nm
        calls = executed_tasks(report, host)
        again = run_role(routed, "--limit", host, "-e", "@%s" % extra)
        assert failures(again) == [] and changed_tasks(again) == [], changed_tasks(again)
        with capsys.disabled():
            print("\n%s without a gateway: %d tasks ran (one module call), the routing part among them: %s"
                  % (host, len(calls), ROUTING_PART in part_names(host_results(again)[host])))
    # The gateway back, for the tests after this one.
    report = run_role(routed)
    assert failures(report) == [], failures(report)
    for host in lab.hosts:
        assert len(rules_from(lab, host, lab.address(host, "eth1"))) == 1


def test_absent_removes_rules_tables_the_unit_and_the_rp_filter_setting(routed, converged):
    lab, _playbook, _directory = routed
    tables = dict((host, routing_results(converged)[host]["routes"][0]["table"]) for host in lab.hosts)
    report = run_role(routed, "-e", "mptcp_state=absent")
    assert failures(report) == [], failures(report)
    for host in lab.hosts:
        address = lab.address(host, "eth1")
        assert rules_from(lab, host, address) == []
        assert default_routes(lab, host, tables[host]) == []
        assert cat(lab, host, UNIT) is None
        assert "rp_filter" not in (cat(lab, host, CONF) or "")
        nm = lab.exec(host, "nmcli", "-g", "ipv4.routing-rules,ipv4.routes", "connection", "show", "lab-eth1").stdout
        assert address not in nm, nm
    again = run_role(routed, "-e", "mptcp_state=absent")
    assert failures(again) == [] and changed_tasks(again) == []
