"""The drift report callback: what differs in words, from the diffs our modules and
ansible.builtin return, the statuses, the files it writes, and that it stays silent on
runs outside check mode."""

import inspect
import json
import os

import pytest

from ansible.inventory.host import Host
from ansible.playbook.handler import Handler
from ansible.playbook.task import Task
from ansible.executor.task_result import TaskResult

from ansible_collections.mptcp.linux.plugins.callback.drift_report import (
    CallbackModule, HostRecord, build_report, describe_diff, describe_result, differences_of, full_diff, render_html)

# Diffs as the modules returned them on a lab host with drift.
SYSCTL = [{"before_header": "runtime (/proc/sys/net/mptcp)", "after_header": "runtime (/proc/sys/net/mptcp)",
           "before": {"net.mptcp.add_addr_timeout": 30, "net.mptcp.enabled": 1},
           "after": {"net.mptcp.add_addr_timeout": 60, "net.mptcp.enabled": 1}},
          {"before_header": "/etc/sysctl.d/90-mptcp.conf", "after_header": "/etc/sysctl.d/90-mptcp.conf",
           "before": "# Managed\nnet.mptcp.add_addr_timeout = 90\nnet.mptcp.enabled = 1\n",
           "after": "# Managed\nnet.mptcp.add_addr_timeout = 60\nnet.mptcp.enabled = 1\n"}]
LIMITS = {"before_header": "MPTCP limits before", "after_header": "MPTCP limits after",
          "before": {"add_addr_accepted": 0, "subflows": 3}, "after": {"add_addr_accepted": 0, "subflows": 2}}
ENDPOINTS = {"before": {"endpoints": ["198.18.1.10 id 1 subflow dev eth0", "198.18.2.10 id 2 signal backup dev eth1"]},
             "after": {"endpoints": ["198.18.1.10 id 1 subflow dev eth0", "198.18.2.10 id 2 signal dev eth1"]}}
NM = {"before": {"lab-eth1": ["signal"], "lab-eth1 on eth1": ["disabled"]},
      "after": {"lab-eth1": ["disabled"], "lab-eth1 on eth1": ["disabled"]}}
UNIT = "[Unit]\nDescription=x\n"
SYSTEMD = [{"before_header": "/etc/systemd/system/mptcp-pm.service",
            "after_header": "/etc/systemd/system/mptcp-pm.service", "before": "", "after": UNIT},
           {"before_header": "systemctl is-enabled mptcp-pm.service",
            "after_header": "systemctl is-enabled mptcp-pm.service", "before": "disabled\n", "after": "enabled\n"}]


@pytest.mark.parametrize("diff, lines", [
    (SYSCTL, ["net.mptcp.add_addr_timeout: 30 -> 60",
              "/etc/sysctl.d/90-mptcp.conf: -net.mptcp.add_addr_timeout = 90",
              "/etc/sysctl.d/90-mptcp.conf: +net.mptcp.add_addr_timeout = 60"]),
    (LIMITS, ["subflows: 3 -> 2"]),
    (ENDPOINTS, ["endpoints: - 198.18.2.10 id 2 signal backup dev eth1",
                 "endpoints: + 198.18.2.10 id 2 signal dev eth1"]),
    (NM, ["lab-eth1: signal -> disabled"]),
    (SYSTEMD, ["/etc/systemd/system/mptcp-pm.service: missing, would be written",
               "systemctl is-enabled mptcp-pm.service: disabled -> enabled"]),
    ({"before_header": "/etc/x.conf", "before": UNIT, "after": ""}, ["/etc/x.conf: would be removed"]),
    ({"before": {"a": {"b": 1}}, "after": {"a": {"b": 2, "c": []}}}, ["a.b: 1 -> 2", "a.c: (none) -> (empty)"]),
    ({"prepared": "The following NEW packages will be installed:\n  mptcpize\n"},
     ["The following NEW packages will be installed:", "  mptcpize"]),
    (None, []),
])
def test_describe_diff(diff, lines):
    assert describe_diff(diff) == lines


def test_long_text_diffs_are_cut():
    before = "".join("line %d\n" % i for i in range(40))
    lines = describe_diff({"before_header": "/f", "before": before, "after": ""}) + \
        describe_diff({"before_header": "/f", "before": before, "after": before.replace("line", "LINE")})
    assert lines[0] == "/f: would be removed"
    assert len(lines) == 1 + 12 + 1 and lines[-1] == "/f: ... 68 more lines"


def test_without_diff_the_module_says_what_it_would_do():
    assert describe_result({"changed": True, "changes": ["set limits: subflows 3 -> 2"]}) == \
        ["set limits: subflows 3 -> 2"]
    assert describe_result({"changed": True}) == ["would change (the module gives no diff)"]


def test_loop_items_each_count():
    written = {"before": "", "after": "x\n", "after_header": "/d/iperf3.service.d/50.conf"}
    result = {"changed": True, "results": [{"changed": True, "item": "iperf3.service", "diff": written},
                                           {"changed": False, "item": "nginx.service"}]}
    found = differences_of("Write drop-ins", "ansible.builtin.template", result)
    assert [d["task"] for d in found] == ["Write drop-ins (iperf3.service)"]
    assert found[0]["changes"] == ["/d/iperf3.service.d/50.conf: missing, would be written"]


def test_full_diff_is_unified_text():
    text = full_diff([LIMITS, SYSTEMD[0]])
    assert "--- MPTCP limits before\n+++ MPTCP limits after\n" in text
    assert '-  "subflows": 3\n+  "subflows": 2\n' in text
    assert "+[Unit]\n" in text


def test_statuses_and_summary():
    records = dict((name, HostRecord()) for name in ("a", "b", "c", "d"))
    records["b"].differences.append({"task": "t", "action": "x", "changes": ["k: 1 -> 2"], "diff": None})
    records["c"].error = {"task": "t", "msg": "boom"}
    records["d"].unreachable, records["d"].error = True, {"task": "t", "msg": "no route"}
    report = build_report(records, "drift.yml", "2026-01-01T00:00:00Z")
    assert [h["status"] for h in report["hosts"].values()] == ["in_sync", "drifted", "failed", "unreachable"]
    assert report["summary"] == {"hosts": 4, "in_sync": 1, "drifted": 1, "failed": 1, "unreachable": 1}


def test_page_escapes_what_hosts_return():
    record = HostRecord()
    record.differences.append({"task": "<script>", "action": "x", "changes": ["a: <b> -> &c"],
                               "diff": {"before": "<i>\n", "after": ""}})
    page = render_html(build_report({"h<1>": record}, "drift.yml", "now"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "a: &lt;b&gt; -&gt; &amp;c" in page
    assert '<tr data-host="h&lt;1&gt;" data-status="drifted">' in page


def result(host, check_mode, payload, name="Set the path manager's limits", handler=False):
    task = Handler() if handler else Task()
    task.name, task.action, task.check_mode = name, "mptcp.linux.mptcp_limits", check_mode
    if "utr" in inspect.signature(TaskResult.__init__).parameters:
        # ansible-core 2.21: the callback's result wraps a UnifiedTaskResult.
        from ansible._internal._task import UnifiedTaskResult
        return TaskResult(Host(host), task, UnifiedTaskResult.from_action_result_dict(payload))
    # ansible-core 2.19 and 2.20 want task_fields; the older lines take it too.
    return TaskResult(Host(host), task, payload, task_fields={})


def callback(tmp_path):
    plugin = CallbackModule()
    # What set_options leaves when the loader found the plugin and MPTCP_DRIFT_REPORT_DIR
    # was set (tests/lab/test_drift.py goes that way).
    plugin._plugin_options = {"report_dir": str(tmp_path / "report")}
    return plugin


def test_a_check_run_writes_both_files(tmp_path):
    plugin = callback(tmp_path)
    plugin.v2_runner_on_ok(result("h1", True, {"changed": True, "diff": LIMITS}))
    plugin.v2_runner_on_ok(result("h1", True, {"changed": True}, name="Restart", handler=True))
    plugin.v2_runner_on_ok(result("h2", True, {"changed": False}))
    plugin.v2_runner_on_skipped(result("h3", True, {"skipped": True}))
    plugin.v2_runner_on_failed(result("h4", True, {"msg": "nmcli not found"}))
    plugin.v2_runner_on_failed(result("h2", True, {"msg": "ignored"}), ignore_errors=True)
    plugin.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    hosts = report["hosts"]
    assert dict((name, host["status"]) for name, host in hosts.items()) == {
        "h1": "drifted", "h2": "in_sync", "h3": "in_sync", "h4": "failed"}
    assert hosts["h1"]["differences"] == [{"task": "Set the path manager's limits", "action": "mptcp.linux.mptcp_limits",
                                           "changes": ["subflows: 3 -> 2"], "diff": LIMITS}]
    assert hosts["h4"]["error"] == {"task": "Set the path manager's limits", "msg": "nmcli not found"}
    assert (tmp_path / "report" / "drift.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(str(tmp_path / "report"))) == ["drift.html", "drift.json"]


def test_a_run_outside_check_mode_writes_nothing(tmp_path):
    plugin = callback(tmp_path)
    plugin.v2_runner_on_ok(result("h1", False, {"changed": True, "diff": LIMITS}))
    plugin.v2_playbook_on_stats(None)
    assert not (tmp_path / "report").exists()


class PublicOnly:
    """A task result with only the names ansible-core 2.19 made public (host, task,
    result): the private ones (_host, _task, _result) are marked for deprecation in 2.23."""

    def __init__(self, host, task, payload):
        self.host, self.task, self.result = host, task, payload


def test_the_callback_needs_only_the_public_names(tmp_path):
    plugin = callback(tmp_path)
    task = Task()
    task.name, task.action, task.check_mode = "Set the path manager's limits", "mptcp.linux.mptcp_limits", True
    plugin.v2_runner_on_ok(PublicOnly(Host("h1"), task, {"changed": True, "diff": LIMITS}))
    plugin.v2_runner_on_failed(PublicOnly(Host("h2"), task, {"msg": "nmcli not found"}))
    plugin.v2_runner_on_unreachable(PublicOnly(Host("h3"), task, {"msg": "no route"}))
    plugin.v2_playbook_on_stats(None)
    hosts = json.loads((tmp_path / "report" / "drift.json").read_text())["hosts"]
    assert dict((name, host["status"]) for name, host in hosts.items()) == {
        "h1": "drifted", "h2": "failed", "h3": "unreachable"}
    assert hosts["h1"]["differences"][0]["changes"] == ["subflows: 3 -> 2"]


def test_routes_and_rp_filter_read_like_the_other_parts():
    """A source route that went (a rule removed by hand) is named by its values, and the
    rp_filter of an interface reads as a sysctl key."""
    routing = {"before": {"routes": [{"address": "198.18.2.2", "gateway": "198.18.2.1", "dev": "eth1", "table": 1000,
                                      "priority": 1000, "profile": None}]},
               "after": {"routes": []}}
    assert describe_diff(routing) == ["routes: - address=198.18.2.2 dev=eth1 gateway=198.18.2.1 priority=1000 table=1000"]
    rp_filter = [{"before_header": "runtime (/proc/sys/net/mptcp, /proc/sys/net/ipv4/conf)",
                  "after_header": "runtime (/proc/sys/net/mptcp, /proc/sys/net/ipv4/conf)",
                  "before": {"net.ipv4.conf.eth1.rp_filter": 1, "net.mptcp.enabled": 1},
                  "after": {"net.ipv4.conf.eth1.rp_filter": 2, "net.mptcp.enabled": 1}},
                 {"before_header": "/etc/sysctl.d/90-mptcp.conf", "after_header": "/etc/sysctl.d/90-mptcp.conf",
                  "before": "# h\nnet.mptcp.enabled = 1\n", "after": "# h\nnet.ipv4.conf.eth1.rp_filter = 2\nnet.mptcp.enabled = 1\n"}]
    assert describe_diff(rp_filter) == ["net.ipv4.conf.eth1.rp_filter: 1 -> 2",
                                        "/etc/sysctl.d/90-mptcp.conf: +net.ipv4.conf.eth1.rp_filter = 2"]


# --- who else changed it (mptcp_host's parts, the host's managers) ------------------------

MANAGERS = {"mptcpd": {"running": True, "enabled": True, "plugins": ["addr_adv", "sspi"], "writes": ["endpoints", "limits"]},
            "networkmanager": {"running": True, "endpoints": [
                {"address": "198.18.2.10", "dev": "eth1", "profile": "lab-eth1", "uuid": "a59c", "flags": ["subflow"]}]}}
PM_PART = {"name": "path_manager", "module": "mptcp.linux.mptcp_path_manager", "changed": True,
           "diff": [LIMITS, {"before": {"endpoints": ["198.18.2.10 id 2 signal backup dev eth1", "198.18.2.99 id 3 dev eth1"]},
                             "after": {"endpoints": ["198.18.2.10 id 2 signal dev eth1"]}}]}
SYSCTL_PART = {"name": "sysctl", "module": "mptcp.linux.mptcp_sysctl", "changed": True, "diff": SYSCTL,
               "conflicts": [{"key": "net.mptcp.enabled", "file": "/etc/sysctl.d/99-later.conf", "value": 0, "wanted": 1}]}


def host_result(managers, *parts):
    return {"changed": True, "parts": list(parts) + [{"name": "systemd", "changed": False}],
            "mptcp": {"supported": True, "managers": managers} if managers is not None else {"supported": True}}


def test_the_report_says_which_manager_changed_what_where_the_host_tells():
    found = differences_of("Set MPTCP up", "mptcp.linux.mptcp_host", host_result(MANAGERS, PM_PART, SYSCTL_PART))
    assert [entry["task"] for entry in found] == ["Set MPTCP up (path_manager)", "Set MPTCP up (sysctl)"]
    assert found[0]["changed_by"] == [
        "limits: mptcpd (running, plugins addr_adv, sspi) sets them itself (addr_adv: when it starts and on every "
        "address change)",
        "endpoint 198.18.2.10: NetworkManager sets it for profile lab-eth1 on eth1 (flags subflow)",
        "endpoint 198.18.2.99: mptcpd (running, plugins addr_adv, sspi) adds an endpoint for every local address"]
    assert found[0]["changes"][:3] == ["subflows: 3 -> 2", "endpoints: - 198.18.2.10 id 2 signal backup dev eth1",
                                       "endpoints: - 198.18.2.99 id 3 dev eth1"]
    assert found[0]["changes"][-3:] == ["changed by " + line for line in found[0]["changed_by"]]
    assert found[1]["changed_by"] == ["net.mptcp.enabled: /etc/sysctl.d/99-later.conf sets 0 and wins at boot"]


@pytest.mark.parametrize("managers", [None, {}, {"mptcpd": {"running": False, "enabled": False, "writes": ["endpoints", "limits"]},
                                                 "networkmanager": {"endpoints": []}}])
def test_nothing_is_blamed_where_no_other_manager_is_seen(managers):
    found = differences_of("Set MPTCP up", "mptcp.linux.mptcp_host", host_result(managers, PM_PART))
    assert found[0]["changed_by"] == []
    assert not any(line.startswith("changed by") for line in found[0]["changes"])
