# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify playbook's report as one self-contained page (documented in verify_html.yml
beside this file): per pair, the throughput of each subflow over time drawn from
mptcp_transfer's samples (inline SVG), the failover moments marked, and the numbers.
Nothing is loaded from elsewhere: the CSS is inline and there is no script."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

try:
    from html import escape as _escape
except ImportError:  # Python 2 has it in cgi
    from cgi import escape as _escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
WIDTH = 900
PANEL = 220  # height of one transfer's chart
MARGIN = (60, 20, 30, 40)  # left, right, top, bottom
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border: 1px solid #bbb; padding: .2em .6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.problem { color: #b00; } .ok { color: #070; }
svg.pair-chart { background: #fafafa; border: 1px solid #ddd; }
svg text { font-size: 11px; fill: #333; }
.axis { stroke: #666; stroke-width: 1; } .grid { stroke: #ddd; stroke-width: 1; }
path.subflow { fill: none; stroke-width: 2; }
line.failover-marker { stroke: #000; stroke-width: 2; stroke-dasharray: 6 4; }
"""


def escape(value):
    return _escape(u"%s" % (value,), quote=True)


def _label(subflow):
    name = "%s -> %s" % (subflow.get("local"), subflow.get("remote"))
    if subflow.get("interface"):
        name += " (%s)" % subflow["interface"]
    if subflow.get("backup"):
        name += " backup"
    return name


def throughput(samples):
    """{counter, samples: [[seconds, [bytes per subflow]]]} -> per subflow, the
    [(seconds, Mbit/s)] between successive samples, None where the subflow was not there."""
    rows = (samples or {}).get("samples") or []
    count = max([len(values) for _seconds, values in rows] or [0])
    lines = [[] for _index in range(count)]
    for (before, old), (now, new) in zip(rows, rows[1:]):
        if now <= before:
            continue
        for index in range(count):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            rate = None if a is None or b is None else max(0.0, (b - a) * 8 / (now - before) / 1e6)
            lines[index].append((now, rate))
    return lines


def _path(points, x, y):
    """SVG path data; a subflow that was not there breaks its line."""
    parts, pen_down = [], False
    for seconds, rate in points:
        if rate is None:
            pen_down = False
            continue
        parts.append("%s%.1f,%.1f" % ("L" if pen_down else "M", x(seconds), y(rate)))
        pen_down = True
    return " ".join(parts) or "M0,0"


def _panel(transfer, title, top):
    """One transfer's chart as an SVG group at `top`: a line per subflow, a dashed line
    where its link went down."""
    lines = throughput(transfer.get("subflow_samples"))
    subflows = transfer.get("subflow_stats") or []
    rows = ((transfer.get("subflow_samples") or {}).get("samples") or [])
    failover = transfer.get("failover") or {}
    end = max([row[0] for row in rows] + [failover.get("at_seconds") or 0, 0.001])
    peak = max([rate for line in lines for _s, rate in line if rate is not None] + [1.0]) * 1.1
    left, right, upper, lower = MARGIN
    inner_w, inner_h = WIDTH - left - right, PANEL - upper - lower

    def x(seconds):
        return left + inner_w * seconds / end

    def y(rate):
        return top + upper + inner_h * (1 - rate / peak)
    out = ['<g class="transfer" data-title="%s">' % escape(title),
           '<text x="%d" y="%d" font-weight="bold">%s</text>' % (left, top + 16, escape(title))]
    for step in range(5):
        rate = peak * step / 4
        out.append('<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>' % (left, WIDTH - right, y(rate), y(rate)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.0f</text>' % (left - 4, y(rate) + 4, rate))
    for step in range(6):
        seconds = end * step / 5
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.1f s</text>' % (x(seconds), top + PANEL - 12, seconds))
    out.append('<line class="axis" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>' % (left, WIDTH - right, y(0), y(0)))
    out.append('<text x="12" y="%.1f" transform="rotate(-90 12 %.1f)" text-anchor="middle">Mbit/s</text>'
               % (top + PANEL / 2, top + PANEL / 2))
    for index, points in enumerate(lines):
        subflow = subflows[index] if index < len(subflows) else {}
        color = COLORS[index % len(COLORS)]
        out.append('<path class="subflow" data-subflow="%s" stroke="%s" d="%s"><title>%s</title></path>' % (
            escape(_label(subflow)), color, _path(points, x, y), escape(_label(subflow))))
        out.append('<text x="%d" y="%d" fill="%s" style="fill:%s">&#9632; %s</text>' % (
            WIDTH - right - 330, top + 16 + 14 * index, color, color, escape(_label(subflow))))
    if failover.get("at_seconds") is not None:
        at = x(failover["at_seconds"])
        out.append('<line class="failover-marker" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"><title>%s down</title></line>' % (
            at, at, top + upper, y(0), escape(failover.get("interface"))))
        gap = "" if failover.get("gap_ms") is None else ", gap %s ms" % failover["gap_ms"]
        out.append('<text x="%.1f" y="%d">%s down%s</text>' % (at + 4, top + upper + 12, escape(failover.get("interface")),
                                                               escape(gap)))
    out.append("</g>")
    return out


def _charted(pair):
    """The transfers of a pair that have samples to draw: MPTCP, then each failover."""
    found = []
    if pair.get("mptcp") and (pair["mptcp"].get("subflow_samples") or {}).get("samples"):
        found.append(("MPTCP", pair["mptcp"]))
    for failover in pair.get("failover") or []:
        if (failover.get("subflow_samples") or {}).get("samples"):
            found.append(("MPTCP with %s down" % failover.get("interface"), failover))
    return found


def _number(value, unit=""):
    return "-" if value is None else "%s%s" % (value, unit)


def _numbers(pair):
    rows = ["<table class=\"numbers\"><tr><th>transfer</th><th>MPTCP</th><th>subflows</th><th>Mbit/s</th>"
            "<th>checksum</th><th>bytes lost</th><th>failover gap</th></tr>"]
    transfers = [("TCP", pair.get("tcp")), ("MPTCP", pair.get("mptcp"))]
    transfers += [("MPTCP with %s down" % f.get("interface"), f) for f in pair.get("failover") or []]
    for title, transfer in transfers:
        if not transfer:
            continue
        if transfer.get("failed"):
            rows.append('<tr><td>%s</td><td colspan="6" class="problem">failed: %s</td></tr>' % (
                escape(title), escape(transfer.get("msg"))))
            continue
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % tuple(
            escape(cell) for cell in (title, "yes" if transfer.get("mptcp") else "no", _number(transfer.get("subflows")),
                                      _number(transfer.get("mbit_per_s")),
                                      "matched" if transfer.get("checksum_matched") else "MISMATCH",
                                      _number(transfer.get("bytes_lost")), _number(transfer.get("gap_ms"), " ms"))))
    rows.append("</table>")
    rows += _rejoins(pair.get("rejoin") or [])
    rows.append("<table class=\"subflows\"><tr><th>transfer</th><th>subflow</th><th>interface</th><th>backup</th>"
                "<th>bytes sent</th><th>bytes acked</th><th>bytes received</th></tr>")
    for title, transfer in transfers[1:]:
        for subflow in (transfer or {}).get("subflow_stats") or []:
            rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % tuple(
                escape(cell) for cell in (title, "%s -> %s" % (subflow.get("local"), subflow.get("remote")),
                                          _number(subflow.get("interface")),
                                          {True: "yes", False: "no"}.get(subflow.get("backup"), "-"),
                                          _number(subflow.get("bytes_sent")), _number(subflow.get("bytes_acked")),
                                          _number(subflow.get("bytes_received")))))
    rows.append("</table>")
    return rows


def _rejoins(rejoins):
    """The paths taken away and given back: when the connection used each again."""
    if not rejoins:
        return []
    rows = ["<table class=\"rejoin\"><tr><th>path given back</th><th>taken away</th><th>its subflow closed after</th>"
            "<th>used again after</th><th>by</th></tr>"]
    for rejoin in rejoins:
        if rejoin.get("failed") or rejoin.get("error"):
            rows.append('<tr><td>%s</td><td colspan="4" class="problem">failed: %s</td></tr>' % (
                escape(rejoin.get("interface")), escape(rejoin.get("msg") or rejoin.get("error"))))
            continue
        used = _number(rejoin.get("rejoin_seconds"), " s") if rejoin.get("rejoined") else "NOT used again"
        by = {True: "a new subflow", False: "the subflow it had"}.get(rejoin.get("new_subflow"), "-")
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % tuple(
            escape(cell) for cell in (rejoin.get("interface"), rejoin.get("away"),
                                      _number(rejoin.get("closed_after_seconds"), " s") if rejoin.get("subflow_closed")
                                      else "did not close", used, by)))
    rows.append("</table>")
    return rows


def verify_html(report, title="MPTCP verify report"):
    """The report -> the page, as one string of HTML."""
    if not isinstance(report, dict):
        raise AnsibleFilterError("verify_html expects the report of mptcp.linux.verify_report")
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           "<title>%s</title>" % escape(title), "<style>%s</style></head><body>" % STYLE,
           "<h1>%s</h1>" % escape(title)]
    problems = report.get("problems") or []
    if problems:
        out.append('<ul class="problems">%s</ul>' % "".join('<li class="problem">%s</li>' % escape(p) for p in problems))
    else:
        out.append('<p class="ok">Every expectation held.</p>')
    for pair in report.get("pairs") or []:
        name = "%s -> %s" % (pair.get("client"), pair.get("server"))
        out.append('<section class="pair"><h2>%s</h2>' % escape(name))
        charted = _charted(pair)
        height = max(1, len(charted)) * PANEL
        label = escape("throughput per subflow, " + name)
        out.append('<svg class="pair-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                   'viewBox="0 0 %d %d" role="img" aria-label="%s">' % (WIDTH, height, WIDTH, height, label))
        if not charted:
            out.append('<text x="20" y="40">no samples of the subflows to draw</text>')
        for index, (label, transfer) in enumerate(charted):
            out += _panel(transfer, label, index * PANEL)
        out.append("</svg>")
        out += _numbers(pair)
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


class FilterModule(object):
    def filters(self):
        return {"verify_html": verify_html}
