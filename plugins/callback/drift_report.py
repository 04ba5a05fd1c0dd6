# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: drift_report
type: aggregate
short_description: Write a fleet drift report, JSON and HTML, from a run in check mode
version_added: 1.0.0
description:
  - Collects, for every host, the tasks that report a change in check mode, with their
    diffs, and at the end of the run writes C(drift.json) and C(drift.html) (one
    self-contained page, a row per host) to O(report_dir).
  - A host is C(in_sync) when no task would change it, C(drifted) when one would (each
    difference is named, before and after), C(failed) or C(unreachable) otherwise.
  - What a task in check mode would change is exactly how the host differs from what the
    play declares, so the report needs nothing from the roles it runs. Handlers are left
    out, being consequences, not differences.
  - Only tasks that run in check mode count. A run without any writes no report, so the
    callback can stay enabled for every run.
  - C(playbooks/drift.yml) of this collection runs the role C(mptcp.linux.mptcp) this way.
  - A result of M(mptcp.linux.mptcp_host), which converges several parts in one call, gives
    one difference per part that differs, named by the module whose code the part ran
    (M(mptcp.linux.mptcp_sysctl), M(mptcp.linux.mptcp_path_manager), ...).
  - Where the host tells who else manages what differs (the call's C(mptcp.managers), see
    M(mptcp.linux.mptcp_info)), the difference says so in C(changed_by) and in lines
    C(changed by ...) - mptcpd's C(addr_adv) for limits and endpoints, NetworkManager's
    profile for an endpoint of its address, the sysctl file that wins at boot for a key.
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - Enabled, in C(callbacks_enabled) of C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description: The directory the report is written to; created when missing. Earlier reports there are replaced.
    type: path
    default: drift-report
    env:
      - name: MPTCP_DRIFT_REPORT_DIR
    ini:
      - section: mptcp_drift_report
        key: report_dir
"""

import datetime
import difflib
import html
import json
import os
import re
import tempfile

from ansible.module_utils.common.text.converters import to_text
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

STATUSES = ("drifted", "failed", "unreachable", "in_sync")
# The lines of one text diff shown in a row; the full diff is in a <details> below it.
MAX_LINES = 12


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- what differs, in words -----------------------------------------------------------

def _is_token_list(value):
    return isinstance(value, list) and all(
        isinstance(item, (str, int, float, bool)) and " " not in to_text(item) for item in value)


def _show(value):
    if value is None:
        return "(none)"
    if isinstance(value, list) and _is_token_list(value):
        return ",".join(to_text(item) for item in value) or "(empty)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return to_text(value)


def _phrase(item):
    """An element of a list that went or came: a dict (a source route: address, gateway,
    dev, table, priority) as `key=value` words, the keys it leaves unset left out."""
    if isinstance(item, dict):
        return " ".join("%s=%s" % (to_text(key), _show(item[key])) for key in sorted(item, key=to_text)
                        if item[key] is not None) or "(empty)"
    return _show(item)


def _describe_values(name, before, after):
    """'name: before -> after' lines of two values, recursing into dicts; a list of
    phrases (endpoints) is shown as the elements that went and came."""
    if isinstance(before, dict) or isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        after = after if isinstance(after, dict) else {}
        lines = []
        for key in sorted(set(before) | set(after), key=to_text):
            sub = "%s.%s" % (name, key) if name else to_text(key)
            lines += _describe_values(sub, before.get(key), after.get(key))
        return lines
    if before == after:
        return []
    if isinstance(before, list) and isinstance(after, list) and not (
            _is_token_list(before) and _is_token_list(after)):
        gone = [item for item in before if item not in after]
        came = [item for item in after if item not in before]
        return (["%s: - %s" % (name, _phrase(item)) for item in gone]
                + ["%s: + %s" % (name, _phrase(item)) for item in came])
    return ["%s: %s -> %s" % (name, _show(before), _show(after))]


def _text_lines(text):
    return to_text(text).splitlines()


def _describe_text(header, before, after):
    before_lines, after_lines = _text_lines(before), _text_lines(after)
    if not before_lines and after_lines:
        return ["%s: missing, would be written" % header]
    if before_lines and not after_lines:
        return ["%s: would be removed" % header]
    if len(before_lines) == 1 and len(after_lines) == 1:
        return ["%s: %s -> %s" % (header, before_lines[0], after_lines[0])]
    changed = [line for line in difflib.unified_diff(before_lines, after_lines, n=0, lineterm="")
               if line[:1] in "+-" and line[:3] not in ("---", "+++")]
    shown = ["%s: %s" % (header, line) for line in changed[:MAX_LINES]]
    if len(changed) > MAX_LINES:
        shown.append("%s: ... %d more lines" % (header, len(changed) - MAX_LINES))
    return shown


def _as_list(diff):
    if not diff:
        return []
    return diff if isinstance(diff, list) else [diff]


def describe_diff(diff):
    """What one task's diff (a dict or a list of them, as modules return it) says
    differs, as short lines."""
    lines = []
    for entry in _as_list(diff):
        if not isinstance(entry, dict):
            continue
        header = to_text(entry.get("after_header") or entry.get("before_header") or "")
        before, after = entry.get("before"), entry.get("after")
        if isinstance(before, dict) or isinstance(after, dict) or isinstance(before, list) \
                or isinstance(after, list):
            lines += _describe_values("", before, after)
        elif "before" in entry or "after" in entry:
            lines += _describe_text(header or "file", before or "", after or "")
        if entry.get("prepared"):
            lines += [line for line in _text_lines(entry["prepared"]) if line.strip()][:MAX_LINES]
    return lines


def full_diff(diff):
    """The whole diff as unified text, for the page's details."""
    chunks = []
    for entry in _as_list(diff):
        if not isinstance(entry, dict):
            continue
        before, after = entry.get("before", ""), entry.get("after", "")
        if not isinstance(before, str) or not isinstance(after, str):
            before = json.dumps(before, indent=2, sort_keys=True) + "\n" if before not in ("", None) else ""
            after = json.dumps(after, indent=2, sort_keys=True) + "\n" if after not in ("", None) else ""
        chunks.append("".join(difflib.unified_diff(
            before.splitlines(True), after.splitlines(True),
            fromfile=to_text(entry.get("before_header") or "before"),
            tofile=to_text(entry.get("after_header") or "after"))))
        if entry.get("prepared"):
            chunks.append(to_text(entry["prepared"]))
    return "\n".join(chunk for chunk in chunks if chunk)


def describe_result(result):
    """A changed result's differences: from its diff, else from what the module says it
    would do (`changes`, `msg`)."""
    lines = describe_diff(result.get("diff"))
    if not lines:
        lines = [to_text(change) for change in result.get("changes") or []]
    if not lines:
        lines = [to_text(result.get("msg") or "would change (the module gives no diff)")]
    return lines


LIMIT_LINE = re.compile(r"^(?:[\w.]*\.)?(subflows|add_addr_accepted): ")
ENDPOINT_LINE = re.compile(r"^endpoints: [-+] (\S+)")


def _mptcpd_text(mptcpd):
    return "mptcpd (%s, plugins %s)" % ("running" if mptcpd.get("running") else "enabled at boot",
                                        ", ".join(mptcpd.get("plugins") or []) or "none")


def changed_by(part, changes, managers):
    """Who else sets what a part of mptcp_host finds different, where the host's
    `managers` (mptcp_info's subset, in the call's `mptcp`) tell: mptcpd's plugins that
    write endpoints or limits, NetworkManager's own endpoints, a sysctl file that wins at
    boot over the role's (the part's `conflicts`)."""
    found = []
    managers = managers if isinstance(managers, dict) else {}
    mptcpd = managers.get("mptcpd") or {}
    writes = (mptcpd.get("writes") or []) if (mptcpd.get("running") or mptcpd.get("enabled")) else []
    nm_made = dict((entry.get("address"), entry) for entry in
                   (managers.get("networkmanager") or {}).get("endpoints") or [] if isinstance(entry, dict))
    if part.get("name") in ("path_manager", "endpoints"):
        if "limits" in writes and any(LIMIT_LINE.match(line) for line in changes):
            found.append("limits: %s sets them itself (addr_adv: when it starts and on every address change)"
                         % _mptcpd_text(mptcpd))
        for address in sorted(set(match.group(1) for match in map(ENDPOINT_LINE.match, changes) if match)):
            made = nm_made.get(address)
            if made:
                found.append("endpoint %s: NetworkManager sets it for profile %s on %s (flags %s)" % (
                    address, made.get("profile"), made.get("dev"), ",".join(made.get("flags") or []) or "none"))
            elif "endpoints" in writes:
                found.append("endpoint %s: %s adds an endpoint for every local address" % (address, _mptcpd_text(mptcpd)))
    for conflict in part.get("conflicts") or []:
        if isinstance(conflict, dict):
            found.append("%s: %s sets %s and wins at boot" % (
                conflict.get("key"), conflict.get("file"), _show(conflict.get("value"))))
    return found


def _part_difference(task_name, action, part, managers):
    changes = describe_result(part)
    who = changed_by(part, changes, managers)
    return dict(task="%s (%s)" % (task_name, part.get("name")), action=part.get("module") or action,
                changes=changes + ["changed by %s" % line for line in who], changed_by=who, diff=part.get("diff"))


def differences_of(task_name, action, result):
    """The differences one result reports: one per changed loop item, or the task's."""
    items = result.get("results")
    if isinstance(items, list):
        found = []
        for item in items:
            if isinstance(item, dict) and item.get("changed"):
                label = item.get("_ansible_item_label", item.get("item"))
                found.append(dict(task="%s (%s)" % (task_name, _show(label)), action=action,
                                  changes=describe_result(item), diff=item.get("diff")))
        return found
    parts = result.get("parts")
    if action.endswith("mptcp_host") and isinstance(parts, list):
        # One module call converges several parts: each part that differs is named by the
        # module whose code it ran, as when each part was a task of its own.
        managers = (result.get("mptcp") or {}).get("managers")
        return [_part_difference(task_name, action, part, managers)
                for part in parts if isinstance(part, dict) and part.get("changed")]
    return [dict(task=task_name, action=action, changes=describe_result(result),
                 diff=result.get("diff"))]


# --- the report ------------------------------------------------------------------------

class HostRecord:
    def __init__(self):
        self.checked_at = None
        self.differences = []
        self.error = None
        self.unreachable = False

    @property
    def status(self):
        if self.unreachable:
            return "unreachable"
        if self.error is not None:
            return "failed"
        return "drifted" if self.differences else "in_sync"

    def as_dict(self):
        return dict(status=self.status, checked_at=self.checked_at, differences=self.differences,
                    error=self.error)


def build_report(records, playbook, generated_at):
    hosts = dict((name, records[name].as_dict()) for name in sorted(records))
    summary = dict((status, sum(1 for h in hosts.values() if h["status"] == status)) for status in STATUSES)
    summary["hosts"] = len(hosts)
    return dict(generated_at=generated_at, playbook=playbook, summary=summary, hosts=hosts)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em}
.meta{color:#666;margin-bottom:1em}
.counts span{display:inline-block;margin-right:1em;padding:.2em .6em;border-radius:4px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.status{font-weight:bold;white-space:nowrap;border-radius:4px;padding:.1em .5em}
.in_sync{background:#e3f4e1;color:#1d6b16}
.drifted{background:#fff0d6;color:#8a5300}
.failed,.unreachable{background:#fde2e1;color:#a11}
ul{margin:.2em 0 .4em 1.2em;padding:0}
code,pre{font:12px/1.35 ui-monospace,monospace}
pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:30em}
.task{font-weight:600}
label{margin-left:1em}
"""

_JS = """
document.getElementById('only').addEventListener('change', function (e) {
  document.querySelectorAll('tr[data-status]').forEach(function (row) {
    row.hidden = e.target.checked && row.dataset.status === 'in_sync';
  });
});
"""


def render_html(report):
    esc = html.escape
    summary = report["summary"]
    rows = []
    for name, host in report["hosts"].items():
        cells = []
        for difference in host["differences"]:
            cells.append('<div class="task">%s <code>%s</code></div><ul>%s</ul>' % (
                esc(difference["task"]), esc(difference["action"] or ""),
                "".join("<li><code>%s</code></li>" % esc(line) for line in difference["changes"])))
            text = full_diff(difference.get("diff"))
            if text:
                cells.append("<details><summary>diff</summary><pre>%s</pre></details>" % esc(text))
        if host["error"]:
            cells.append('<div class="task">%s</div><pre>%s</pre>' % (
                esc(host["error"].get("task") or ""), esc(host["error"].get("msg") or "")))
        rows.append(
            '<tr data-host="%s" data-status="%s"><td>%s</td><td><span class="status %s">%s</span></td>'
            "<td>%s</td><td>%s</td></tr>" % (
                esc(name, quote=True), host["status"], esc(name), host["status"],
                host["status"].replace("_", " "), "".join(cells) or "&mdash;",
                esc(host["checked_at"] or "")))
    counts = "".join('<span class="%s">%s: %d</span>' % (status, status.replace("_", " "), summary[status])
                     for status in STATUSES)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>MPTCP drift report %s</title>" % esc(report["generated_at"]),
        "<style>%s</style></head><body>" % _CSS,
        "<h1>MPTCP drift report</h1>",
        '<div class="meta">%d hosts checked by %s, report written %s</div>' % (
            summary["hosts"], esc(report["playbook"] or "ansible-playbook"), esc(report["generated_at"])),
        '<div class="counts">%s<label><input type="checkbox" id="only"> only hosts that are not in sync</label></div>'
        % counts,
        "<table><thead><tr><th>host</th><th>status</th><th>what differs</th><th>checked at</th></tr></thead>",
        "<tbody>", "\n".join(rows), "</tbody></table>",
        "<script>%s</script>" % _JS,
        "</body></html>", ""])


def write_atomically(path, text):
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _parts(result):
    """(host, task, result dict) of a callback's task result. ansible-core 2.19 made them
    public (`host`, `task`, `result`) and marks the private names it had before
    (`_host`, `_task`, `_result`, the only ones up to 2.18) for deprecation in 2.23."""
    if hasattr(result, "result"):
        return result.host, result.task, result.result
    return result._host, result._task, result._result


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mptcp.linux.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._records = {}
        self._playbook = None
        self._checked = False

    def _record(self, result):
        name = _parts(result)[0].get_name()
        record = self._records.setdefault(name, HostRecord())
        record.checked_at = now()
        return record

    @staticmethod
    def _in_check_mode(result):
        task = _parts(result)[1]
        return bool(task.check_mode) and not isinstance(task, Handler)

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(to_text(playbook._file_name))

    def v2_runner_on_ok(self, result):
        if not self._in_check_mode(result):
            return
        self._checked = True
        record = self._record(result)
        _host, task, payload = _parts(result)
        if payload.get("changed"):
            action = getattr(task, "resolved_action", None) or task.action
            record.differences += differences_of(task.get_name(), action, payload)

    def v2_runner_on_skipped(self, result):
        if self._in_check_mode(result):
            self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self._in_check_mode(result):
            return
        self._checked = True
        record = self._record(result)
        _host, task, payload = _parts(result)
        if not ignore_errors:
            record.error = dict(task=task.get_name(),
                                msg=to_text(payload.get("msg") or payload.get("stderr") or "failed"))

    def v2_runner_on_unreachable(self, result):
        if not self._in_check_mode(result):
            return
        self._checked = True
        record = self._record(result)
        record.unreachable = True
        _host, task, payload = _parts(result)
        record.error = dict(task=task.get_name(), msg=to_text(payload.get("msg") or "unreachable"))

    def v2_playbook_on_stats(self, stats):
        # Hosts that ran no task in check mode were not checked: they are left out.
        if not self._checked:
            return
        report = build_report(self._records, self._playbook, now())
        directory = self.get_option("report_dir")
        if not os.path.isdir(directory):
            os.makedirs(directory)
        json_path = os.path.join(directory, "drift.json")
        html_path = os.path.join(directory, "drift.html")
        write_atomically(json_path, json.dumps(report, indent=2, sort_keys=True, default=to_text) + "\n")
        write_atomically(html_path, render_html(report))
        summary = report["summary"]
        self._display.display("drift report: %d hosts, %d in sync, %d drifted, %d failed, %d unreachable: %s, %s" % (
            summary["hosts"], summary["in_sync"], summary["drifted"], summary["failed"],
            summary["unreachable"], json_path, html_path))
