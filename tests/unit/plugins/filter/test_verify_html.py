"""verify.html from a report of recorded transfers: the page's structure (one chart per
pair, one line per subflow, a marker per failover), the throughput it draws and that it
needs nothing from elsewhere. The browser's view of it is tests/kernel/test_subflow_report.py."""

import re
from html.parser import HTMLParser

from ansible_collections.mptcp.linux.plugins.filter.verify_html import throughput, verify_html
from ansible_collections.mptcp.linux.plugins.filter.verify_report import verify_report, verify_table

SIZE = 8 << 20


def subflows(*interfaces):
    return [{"local": "198.18.10%d.2" % n, "local_port": 4000 + n, "remote": "198.18.10%d.1" % n, "remote_port": 5210,
             "interface": name, "backup": False, "bytes_sent": SIZE // 2, "bytes_acked": SIZE // 2 + 1}
            for n, name in enumerate(interfaces, 1)]


def transfer(item, failover=None):
    client = subflows("c1", "c2")
    server = [{"local": s["remote"], "local_port": s["remote_port"], "remote": s["local"], "remote_port": s["local_port"],
               "interface": "s" + s["interface"][1], "bytes_received": SIZE // 2} for s in client]
    return {"item": item, "mptcp": True, "subflows_max": 2, "mbit_per_s": 95.0, "size": SIZE, "bytes": SIZE,
            "checksum_matched": True, "server": {"bytes": SIZE, "subflow_stats": server}, "events": [], "paths": [],
            "subflow_stats": client, "failover": failover,
            "subflow_samples": {"counter": "bytes_acked", "interval": 0.1,
                                "samples": [[0.0, [1, None]], [0.5, [3000001, 1]], [1.0, [4194305, 4194305]]]}}


def report():
    failover = {"completed": True, "interface": "c2", "at_seconds": 0.4, "gap_ms": 812}
    hostvars = {"cli": {
        "__mptcp_verify_mptcp": {"results": [transfer("srv")]},
        "__mptcp_verify_failover": {"results": [transfer(["srv", "c2"], failover)]},
    }}
    return verify_report(hostvars, ["cli"], ["srv"], {"subflows": 2})


class Elements(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(page, tag, cls=None):
    parser = Elements()
    parser.feed(page)
    return [attrs for name, attrs in parser.found if name == tag and (cls is None or attrs.get("class") == cls)]


def test_report_has_the_subflows_with_both_sides_bytes_and_the_gap():
    made = report()
    assert made["problems"] == []
    [pair] = made["pairs"]
    assert [(s["interface"], s["server_interface"], s["bytes_sent"], s["bytes_received"])
            for s in pair["mptcp"]["subflow_stats"]] == [("c1", "s1", SIZE // 2, SIZE // 2), ("c2", "s2", SIZE // 2, SIZE // 2)]
    assert pair["failover"][0]["gap_ms"] == 812
    assert "c2 down: ok, gap 812 ms" in verify_table(made)


def test_page_one_chart_per_pair_one_line_per_subflow_a_marker_per_failover():
    page = verify_html(report())
    assert len(elements(page, "svg", "pair-chart")) == 1
    lines = elements(page, "path", "subflow")
    assert len(lines) == 4 and all(line["d"].startswith("M") for line in lines)
    assert [line["data-subflow"] for line in lines[:2]] == [
        "198.18.101.2 -> 198.18.101.1 (c1)", "198.18.102.2 -> 198.18.102.1 (c2)"]
    assert len(elements(page, "line", "failover-marker")) == 1
    assert "812 ms" in page and "cli -&gt; srv" in page
    # Self-contained: no script, nothing fetched.
    assert not elements(page, "script") and not elements(page, "link") and not elements(page, "img")
    assert not re.search(r"(src|href)=", page)


def test_throughput_between_samples_and_breaks_where_a_subflow_was_not():
    samples = {"samples": [[0.0, [0, None]], [0.5, [625000, 0]], [1.0, [625000, 1250000]]]}
    assert throughput(samples) == [[(0.5, 10.0), (1.0, 0.0)], [(0.5, None), (1.0, 20.0)]]
    assert throughput(None) == []


def test_names_are_escaped():
    made = report()
    made["pairs"][0]["client"] = "<b>cli</b>"
    page = verify_html(made)
    assert "<b>cli</b>" not in page and "&lt;b&gt;cli&lt;/b&gt;" in page


def test_a_pair_without_samples_still_has_its_chart():
    page = verify_html({"pairs": [{"client": "a", "server": "b", "mptcp": {"failed": True, "msg": "refused"},
                                   "failover": []}], "problems": ["a -> b: the MPTCP transfer failed: refused"]})
    assert len(elements(page, "svg", "pair-chart")) == 1 and not elements(page, "path", "subflow")
    assert "failed: refused" in page


def test_the_paths_given_back_have_a_table_of_their_own():
    found = dict(transfer(["srv", "c2"]), rejoin={
        "away": "address", "subflow_closed": True, "closed_after_seconds": 3.2, "rejoined": True, "rejoin_seconds": 0.56,
        "new_subflow": True})
    never = dict(transfer(["srv", "c1"]), rejoin={"away": "link", "subflow_closed": False, "rejoined": False})
    hostvars = {"cli": {"__mptcp_verify_mptcp": {"results": [transfer("srv")]},
                        "__mptcp_verify_rejoin": {"results": [found, never]}}}
    page = verify_html(verify_report(hostvars, ["cli"], ["srv"], {"rejoin_max_seconds": None}))
    assert len(elements(page, "table", "rejoin")) == 1
    table = page[page.index('<table class="rejoin">'):]
    table = table[:table.index("</table>")]
    assert "<td>c2</td><td>address</td><td>3.2 s</td><td>0.56 s</td><td>a new subflow</td>" in table
    assert "<td>c1</td><td>link</td><td>did not close</td><td>NOT used again</td><td>-</td>" in table
    assert 'class="rejoin"' not in verify_html(report())
