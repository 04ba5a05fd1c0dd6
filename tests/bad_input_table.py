"""The bad-input table (tests/data/bad_inputs.yml) as one playbook per test file: each row
is a task (or, for the role, a block that rescues its failure), followed by a task that
takes the host's state, so that every row is checked against the state just before it
and against the state before the first. The state is read by the snapshot program below,
run with the host's own python3: nothing of the collection is used to read it."""

import json
import os
import shlex

import yaml

from ansible_output import failed_cleanly

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(REPO, "tests", "data", "bad_inputs.yml")

# argv[1]: JSON {"files": [glob...], "nm_profiles": [name...], "netns": [name...],
# "units": [name...]}; prints the state as JSON.
SNAPSHOT = r"""
import glob, json, os, stat, subprocess, sys
spec = json.loads(sys.argv[1])
def run(*argv):
    result = subprocess.run(list(argv), capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    return [result.returncode, result.stdout, result.stderr]
state = {}
proc = "/proc/sys/net/mptcp"
state["sysctl"] = dict((name, open(os.path.join(proc, name)).read()) for name in sorted(os.listdir(proc))) \
    if os.path.isdir(proc) else None
state["limits"] = run("ip", "mptcp", "limits", "show")
state["endpoints"] = run("ip", "-j", "mptcp", "endpoint", "show")
state["links"] = sorted((link["ifname"], sorted(link["flags"])) for link in json.loads(run("ip", "-j", "link", "show")[1]))
files = {}
for pattern in spec.get("files", []):
    for path in sorted(glob.glob(pattern)):
        info = os.lstat(path)
        content = open(path, "rb").read().decode("utf-8", "replace") if stat.S_ISREG(info.st_mode) else None
        files[path] = [oct(info.st_mode), info.st_uid, info.st_gid, content]
state["files"] = files
state["nm"] = dict((name, run("nmcli", "-g", "connection.mptcp-flags", "connection", "show", name))
                   for name in spec.get("nm_profiles", []))
state["units"] = dict((name, run("systemctl", "is-enabled", name)[1].strip()) for name in spec.get("units", []))
state["netns"] = dict((name, os.path.lexists(os.path.join("/run/netns", name))) for name in spec.get("netns", []))
print(json.dumps(state, sort_keys=True))
"""


# The role on a lab's hosts: ROLE_FIRST sets them up; ROLE_SECOND differs from it in every
# part, so a run that got as far as changing anything would show in LAB_STATE.
ROLE_FIRST = {
    "mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 60},
    "mptcp_limits": {"subflows": 2, "add_addr_accepted": 1},
    "mptcp_endpoints": [{"address": "{{ lab_addresses.eth1 }}", "dev": "eth1", "flags": ["subflow"]}],
    "mptcp_nm_profiles": [{"name": "lab-eth0", "flags": ["enabled", "subflow"]}, {"name": "lab-eth1", "flags": ["disabled"]}],
}
ROLE_SECOND = {
    "mptcp_sysctl": {"enabled": 1, "add_addr_timeout": 90},
    "mptcp_limits": {"subflows": 4, "add_addr_accepted": 2},
    "mptcp_endpoints": [{"address": "{{ lab_addresses.eth1 }}", "dev": "eth1", "flags": ["signal"]}],
    "mptcp_nm_profiles": [{"name": "lab-eth0", "flags": ["enabled", "signal"]}, {"name": "lab-eth1", "flags": ["disabled"]}],
    "mptcp_mptcpize_services": ["iperf3"],
}
LAB_STATE = {"files": ["/etc/sysctl.d/*", "/etc/sysctl.d/.*", "/etc/systemd/system/mptcp-pm.service",
                       "/etc/systemd/system/.*", "/etc/systemd/system/*.d", "/etc/systemd/system/*.d/*"],
             "nm_profiles": ["lab-eth0", "lab-eth1"], "units": ["mptcp-pm.service"]}


def load(select):
    with open(TABLE, encoding="utf-8") as handle:
        return [row for row in yaml.safe_load(handle) if select(row)]


def row_id(row):
    return row["id"]


def snapshot_task(python, spec):
    """raw: no module around the program, so that the many snapshots cost little."""
    argv = [python, "-c", SNAPSHOT, json.dumps(spec)]
    return {"name": "state", "ansible.builtin.raw": " ".join(shlex.quote(arg) for arg in argv), "changed_when": False}


def module_task(row):
    return {"name": row["id"], "mptcp.linux." + row["module"]: row["args"], "ignore_errors": True}


def role_task(row, valid):
    """The role with the valid variables and the row's over them; a failure is rescued
    (so the play goes on with the next row) and recorded as the row's result."""
    return {"name": row["id"], "block": [
        {"name": "run the role", "ansible.builtin.include_role": {"name": "mptcp.linux.mptcp"},
         "vars": dict(valid, **row["role"])}],
        "rescue": [{"name": "failed", "ansible.builtin.set_fact": {
            "bad_input_results": "{{ bad_input_results | default({}) | combine({%s: ansible_failed_result}) }}"
                                 % json.dumps(row["id"])}}]}


def results(report, rows, host):
    """{row id: (result, state before, state after)} from the ansible.posix.json report of
    a playbook built as [snapshot, row, snapshot, row, snapshot...]; a role row's result
    is the failure its rescue recorded (None: the role did not fail)."""
    tasks = [task for play in report["plays"] for task in play["tasks"]]
    states = [json.loads(task["hosts"][host]["stdout"]) for task in tasks if task["task"]["name"] == "state"]
    found = {}
    for index, row in enumerate(rows):
        found[row["id"]] = (_result(tasks, row, host), states[index], states[index + 1])
    return found


def _result(tasks, row, host):
    if "module" in row:
        return next(task["hosts"][host] for task in tasks if task["task"]["name"] == row["id"])
    recorded = [task["hosts"][host]["ansible_facts"]["bad_input_results"] for task in tasks
                if task["task"]["name"] == "failed" and host in task["hosts"]]
    return next((facts[row["id"]] for facts in recorded if row["id"] in facts), None)


def playbook(rows, hosts, python, spec, valid=None, **play):
    tasks = [snapshot_task(python, spec)]
    for row in rows:
        tasks.append(module_task(row) if "module" in row else role_task(row, valid))
        tasks.append(snapshot_task(python, spec))
    return yaml.safe_dump([dict({"name": "bad inputs", "hosts": hosts, "gather_facts": False, "tasks": tasks}, **play)],
                          allow_unicode=True)


def assert_refused(row, result):
    """Failed, cleanly, with a message naming the value and saying what is wrong."""
    assert result is not None, "%s did not fail" % row["id"]
    assert result.get("failed") is True, result
    assert not result.get("changed"), result
    assert failed_cleanly(result), result
    message = result["msg"]
    assert "Traceback" not in message, message
    for fragment in [row["value"]] + row["msg"]:
        assert fragment in message, "%r not in %r" % (fragment, message)
