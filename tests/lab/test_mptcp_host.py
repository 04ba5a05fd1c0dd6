"""mptcp_host, the role's one module call per host (issue 20), on a lab of its own
(Debian 12 server with iperf3 moved onto MPTCP, Debian 13 client, the lab's variables):

- an idempotent run and a drift check make one module call per host, counted from the
  run's own -vvv output over SSH (python started on the host), not from the role's text;
- a part refused while applying (the systemd part: a file where the drop-in directory
  must go) undoes the parts changed before it (sysctl value and file, path-manager
  limits), read back with the hosts' own tools, and the error names the part and what was
  undone;
- a part whose own checks fail on the host (a device that is not there) stops the run
  before any part changes anything;
- the missing mptcpize library is reported by the call, installed, and the run goes on.

The oracles are /proc/sys, the sysctl file, `ip mptcp limits show`, `dpkg -s`, read with
`podman exec`."""

import collections
import json
import os
import re

import pytest


HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LAB_PREFIX = "h20-host"
LAB_SUBNETS = ["198.18.96.0/24", "198.18.97.0/24", "198.18.98.0/24"]
ROLE = os.path.join(REPO, "benchmarks", "role.yml")
DRIFT = os.path.join(REPO, "playbooks", "drift.yml")
VARS = os.path.join(REPO, "lab", "mptcp-vars.yml")
CONF = "/etc/sysctl.d/90-mptcp.conf"
# A remote command over SSH (-vvv): `<ADDRESS> SSH: EXEC ...`; a module call is the one
# that starts python on the module (pipelining: sent on stdin, through sudo's quoting).
SSH_EXEC = re.compile(r"^<([^>]+)> SSH: EXEC ")
PYTHON_RUN = re.compile(r"/python[0-9.]*( \S*/AnsiballZ_\w+\.py)?['\"]*( && sleep 0|$)")


def module_calls(lab, stdout):
    """{host: module calls} from a -vvv run's output."""
    by_address = dict((hostvars["ansible_host"], host) for host, hostvars in lab.hostvars.items())
    calls = collections.Counter()
    for line in stdout.splitlines():
        match = SSH_EXEC.match(line)
        if match and PYTHON_RUN.search(line):
            calls[by_address.get(match.group(1), match.group(1))] += 1
    return dict(calls)


def server(lab):
    return next(host for host, distro in lab.hosts.items() if distro == "debian12")


def read(lab, host, path):
    return lab.exec(host, "cat", path).stdout


def limits(lab, host):
    return lab.exec(host, "ip", "mptcp", "limits", "show").stdout.split()


def failed_results(report):
    return [(host, result) for play in report["plays"] for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed")]


def ran_on(report, host):
    """[(task name, result)] of the tasks that ran on the host, in order."""
    return [(task["task"]["name"].split(" : ", 1)[-1], result) for play in report["plays"] for task in play["tasks"]
            for name, result in task["hosts"].items() if name == host and not result.get("skipped")]


HOST_TASK = "Set MPTCP up, or undo it, in one call"


def groups_inventory(lab):
    """A second inventory source putting the Debian 12 host in mptcp_servers, as the demo
    lab does (own_lab's hosts are in no group): the lab's variables then make it the server,
    with iperf3 moved onto MPTCP."""
    path = os.path.join(os.path.dirname(lab.inventory), "groups.yml")
    with open(path, "w") as handle:
        json.dump({"mptcp_servers": {"hosts": {server(lab): None}}}, handle)
    return path


def run(lab, playbook, *args, **env):
    return lab.playbook(playbook, "-i", groups_inventory(lab), *args, **env)


def run_json(lab, playbook, *args):
    return lab.json_playbook(playbook, "-i", groups_inventory(lab), *args)


@pytest.fixture(scope="module")
def converged(own_lab):
    proc = run(own_lab, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "libmptcpwrap" in read(own_lab, server(own_lab), "/etc/systemd/system/iperf3.service.d/50-mptcp.conf")
    return own_lab


@pytest.mark.parametrize("what, argv", [
    ("idempotent run", [ROLE]),
    ("drift check", ["-e", "@" + VARS, DRIFT]),
])
def test_an_idempotent_run_and_a_drift_check_make_one_module_call_per_host(converged, what, argv, capsys):
    lab = converged
    env = dict(ANSIBLE_CALLBACKS_ENABLED="mptcp.linux.drift_report", MPTCP_DRIFT_REPORT_DIR=os.path.join(
        REPO, ".lab", lab.name, "drift")) if argv[-1] == DRIFT else {}
    proc = run(lab, argv[-1], "-vvv", *argv[:-1], **env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert re.search(r"changed=0\s", proc.stdout) and not re.search(r"changed=[1-9]", proc.stdout), proc.stdout[-2000:]
    calls = module_calls(lab, proc.stdout)
    with capsys.disabled():
        print("\n%s: module calls per host %s" % (what, calls))
    assert calls == dict((host, 1) for host in lab.hosts), calls


def test_check_mode_names_the_parts_that_would_change_with_their_diffs_and_changes_nothing(converged, tmp_path):
    lab = converged
    host = server(lab)
    before = dict(timeout=read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout"), conf=read(lab, host, CONF),
                  limits=limits(lab, host), unit=read(lab, host, "/etc/systemd/system/mptcp-pm.service"))
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({"mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 90},
                                   "mptcp_limits": {"subflows": 3, "add_addr_accepted": 0}}))
    ran = ran_on(run_json(lab, ROLE, "--check", "--diff", "--limit", host, "-e", "@%s" % changed), host)
    said = dict(ran)
    assert said["Name the parts that changed"]["msg"] == "sysctl, path_manager, systemd", said
    call = said[HOST_TASK]
    assert call["changed_parts"] == ["sysctl", "path_manager", "systemd"]
    diffs = json.dumps(call["diff"])
    assert "add_addr_timeout" in diffs and "subflows" in diffs and "mptcp-pm.service" in diffs, diffs
    assert dict(timeout=read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout"), conf=read(lab, host, CONF),
                limits=limits(lab, host), unit=read(lab, host, "/etc/systemd/system/mptcp-pm.service")) == before


def test_a_part_refused_while_applying_undoes_the_parts_changed_before_it(converged, tmp_path):
    lab = converged
    host = server(lab)
    before = dict(timeout=read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout"), conf=read(lab, host, CONF),
                  limits=limits(lab, host))
    assert before["timeout"].strip() == "60" and "subflows" in before["limits"]
    # The drop-in directory replaced by a file: planning sees a drop-in to write, applying
    # cannot create its directory (systemd is the last part).
    dropin_dir = "/etc/systemd/system/iperf3.service.d"
    lab.exec(host, "sh", "-ec", "rm -rf %s && echo not a directory > %s" % (dropin_dir, dropin_dir))
    try:
        changed = tmp_path / "changed.json"
        changed.write_text(json.dumps({"mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 90},
                                       "mptcp_limits": {"subflows": 3, "add_addr_accepted": 0}}))
        report = run_json(lab, ROLE, "--limit", host, "-e", "@%s" % changed)
        ((failed_host, result),) = failed_results(report)
        assert failed_host == host
        message = result["msg"]
        assert message.startswith("systemd: cannot create %s" % dropin_dir), message
        assert "were undone" in message and "sysctl" in message and "path_manager" in message, message
        assert result["part"] == "systemd"
        # Read back: every part changed before it is as it was.
        assert read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout") == before["timeout"]
        assert read(lab, host, CONF) == before["conf"]
        assert limits(lab, host) == before["limits"]
    finally:
        lab.exec(host, "rm", "-f", dropin_dir)
        proc = run(lab, ROLE, "--limit", host)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_part_whose_checks_fail_on_the_host_stops_the_run_before_anything_changes(converged, tmp_path):
    lab = converged
    host = server(lab)
    before = dict(timeout=read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout"), conf=read(lab, host, CONF),
                  limits=limits(lab, host))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 90},
                               "mptcp_endpoints": [{"address": lab.address(host, "eth1"), "dev": "eth9",
                                                    "flags": ["signal"]}]}))
    report = run_json(lab, ROLE, "--limit", host, "-e", "@%s" % bad)
    ((_host, result),) = failed_results(report)
    assert result["msg"].startswith("path_manager: ") and "eth9" in result["msg"], result["msg"]
    assert result["msg"].endswith("Nothing had been changed."), result["msg"]
    assert read(lab, host, "/proc/sys/net/mptcp/add_addr_timeout") == before["timeout"]
    assert read(lab, host, CONF) == before["conf"]
    assert limits(lab, host) == before["limits"]


def test_a_missing_library_is_reported_first_and_the_package_step_follows(converged):
    """The library moved away (its package stays installed): the first call reports it
    missing and changes nothing; the role goes on to its package step. With
    mptcp_install_packages false, the one call stops with the role's message instead,
    nothing changed. (The package step itself needs the distribution's mirror, which the
    lab hosts do not reach: apt cannot even install python3-apt there.)"""
    lab = converged
    host = server(lab)
    hidden = "/root/hidden-mptcpize"
    library_dir = lab.exec(host, "sh", "-ec", "dirname /usr/lib/*/mptcpize/libmptcpwrap.so.0").stdout.strip()
    dropin = read(lab, host, "/etc/systemd/system/iperf3.service.d/50-mptcp.conf")
    lab.exec(host, "sh", "-ec", "mkdir -p %s && mv %s/libmptcpwrap.so.0* %s/" % (hidden, library_dir, hidden))
    try:
        ran = ran_on(run_json(lab, ROLE, "--limit", host), host)
        names = [name for name, _result in ran]
        first = ran[names.index(HOST_TASK)][1]
        assert first["missing"] == ["mptcpize"] and first["parts"] == [] and not first["changed"], first
        after_the_call = names[names.index(HOST_TASK) + 1:][:2]
        assert after_the_call == ["Install what is missing, then set MPTCP up", "Read the distribution"], names
        assert "Install iproute2, mptcpize and pyroute2" in names, names

        ran = ran_on(run_json(lab, ROLE, "--limit", host, "-e", "mptcp_install_packages=false"), host)
        calls = [result for name, result in ran if name == HOST_TASK]
        assert len(calls) == 1 and calls[0].get("failed"), calls
        assert ("mptcp_mptcpize_services lists iperf3.service, but %s has no mptcpize library (libmptcpwrap.so)" % host
                in calls[0]["msg"]), calls[0]["msg"]
        assert read(lab, host, "/etc/systemd/system/iperf3.service.d/50-mptcp.conf") == dropin
    finally:
        lab.exec(host, "sh", "-ec", "mv %s/libmptcpwrap.so.0* %s/" % (hidden, library_dir))
    proc = run(lab, ROLE, "--limit", host)
    assert proc.returncode == 0, proc.stdout + proc.stderr
