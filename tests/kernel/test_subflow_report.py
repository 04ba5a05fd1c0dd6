"""Per-subflow bytes and the failover gap of mptcp.linux.mptcp_transfer, between two network
namespaces joined by two veth pairs (the pair fixture of test_mptcp_transfer.py), checked
against the kernel's own counters of each link (/sys/class/net/*/statistics), never the
module's report of itself; and the verify report of real transfers drawn as verify.html
and read back from headless Chromium (what the browser shows: its DOM and a screenshot)."""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import yaml

import test_mptcp_transfer
from test_mptcp_transfer import REPO, SERVER_ADDRESS, Counters, link_bytes

from ansible_collections.mptcp.linux.plugins.filter.verify_html import verify_html
from ansible_collections.mptcp.linux.plugins.filter.verify_report import verify_report, verify_table

# The fixture of test_mptcp_transfer.py: the two namespaces, their two veth links and the
# path manager set up as the guides do it.
pair = test_mptcp_transfer.pair
SIZE = 16 << 20
# A frame carries at least this share of its bytes as TCP payload on these veth links
# (1500-byte MTU, GSO: headers are a few percent); the slack covers ARP, neighbour
# discovery and the handshakes, which carry no payload.
HEADER_SHARE = 1.10
SLACK = 256 << 10


def by_interface(subflows):
    return {subflow["interface"]: subflow for subflow in subflows}


def test_each_subflow_carried_what_its_link_counted(pair):
    pair.shape()
    counters = Counters(pair)
    server_links = link_bytes(pair.server, "s1", "s2")
    client, server = pair.transfer(size=SIZE, seed=5)
    counters.stop()
    received = {link: after[1] - server_links[link][1] for link, after in link_bytes(pair.server, "s1", "s2").items()}
    assert not client.get("failed"), client
    sent = by_interface(client["subflow_stats"])
    [seen] = server["connections"]
    got = by_interface(seen["subflow_stats"])
    print("\nper subflow, client: %s\nserver: %s\nlinks: client tx %s, server rx %s" % (
        json.dumps(client["subflow_stats"]), json.dumps(seen["subflow_stats"]), counters.sent, received))
    assert sorted(sent) == ["c1", "c2"] and sorted(got) == ["s1", "s2"]
    assert (sent["c1"]["local"], sent["c1"]["remote"]) == ("198.18.101.2", "198.18.101.1")
    assert (sent["c2"]["local"], sent["c2"]["remote"]) == ("198.18.102.2", "198.18.102.1")
    assert [subflow["backup"] for subflow in client["subflow_stats"]] == [False, False]
    for client_link, server_link in (("c1", "s1"), ("c2", "s2")):
        # What the subflow's TCP socket says it sent is payload the link's frames carried:
        # never more than the link counted, and the link counted little else.
        payload, frames = sent[client_link]["bytes_sent"], counters.sent[client_link]
        assert payload <= frames <= payload * HEADER_SHARE + SLACK, (client_link, payload, frames)
        # Acknowledged: at most what was sent, plus the SYN and the FIN (a sequence number each).
        assert sent[client_link]["bytes_acked"] <= payload + 2
        # The same on the receiving side, with the server's links.
        payload, frames = got[server_link]["bytes_received"], received[server_link]
        assert payload <= frames <= payload * HEADER_SHARE + SLACK, (server_link, payload, frames)
    # Both paths carried data, and together all of it.
    assert sum(subflow["bytes_received"] for subflow in seen["subflow_stats"]) >= SIZE
    assert min(subflow["bytes_received"] for subflow in seen["subflow_stats"]) > SIZE // 5
    # The series ends at the counters reported, and is bounded.
    samples = client["subflow_samples"]
    assert samples["counter"] == "bytes_acked" and 2 <= len(samples["samples"]) <= 300
    assert samples["samples"][-1][1] == [subflow["bytes_acked"] for subflow in client["subflow_stats"]]
    timeline = seen["receive_timeline"]
    assert timeline["samples"][-1][1] == SIZE


def test_failover_gap_at_the_receiver(pair):
    pair.shape()
    counters = Counters(pair)
    client, server = pair.transfer(size="24M", fail_interface="c1", fail_after_fraction=0.3)
    counters.stop()
    assert not client.get("failed"), client
    failover = client["failover"]
    [seen] = server["connections"]
    timeline = seen["receive_timeline"]
    print("\nfailover of c1: gap %s ms after %s bytes received (link down after %s sent), %s s to the end;"
          " subflows %s" % (failover["gap_ms"], failover["gap_after_bytes"], failover["after_bytes"],
                            failover["seconds_after_failure"], json.dumps(client["subflow_stats"])))
    assert failover["completed"] is True and client["checksum_matched"] is True
    assert seen["bytes"] == 24 << 20
    assert failover["gap_ms"] == timeline["longest_gap_ms"] and failover["gap_ms"] > 0
    # The receiver's series (sampled on arrival) has no sample inside the stall.
    start, end = timeline["longest_gap_at_seconds"], timeline["longest_gap_at_seconds"] + failover["gap_ms"] / 1000.0
    around = [(a, b) for a, b in zip(timeline["samples"], timeline["samples"][1:])
              if a[0] <= start + 0.001 and b[0] >= end - 0.002]
    assert around, (start, end, timeline["samples"])
    # The c1 subflow carried part of the data only, all of it through c1, and c2 the rest:
    # what the peer acknowledged on a subflow crossed that subflow's link, so its link
    # counted at least as much. (Not bytes_sent: what c1's shaping queue held when the link
    # went down counts as sent by TCP and never reached the link; seen 3543092 bytes sent
    # against 3454092 on the link.)
    stats = by_interface(client["subflow_stats"])
    assert stats["c1"]["bytes_sent"] < failover["after_bytes"]
    assert stats["c1"]["bytes_acked"] <= counters.sent["c1"], (stats["c1"], counters.sent)
    assert stats["c2"]["bytes_acked"] <= counters.sent["c2"], (stats["c2"], counters.sent)
    assert stats["c1"]["bytes_acked"] + stats["c2"]["bytes_acked"] >= 24 << 20


CHROMIUM = "chromium"


def chromium(*args):
    """Debian's chromium, headless, in a profile of its own; -> the finished process."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--user-data-dir=" + profile] + list(args),
                              capture_output=True, text=True, timeout=120, check=False)


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


def shown(page, charts, lines, markers, gap):
    """What Chromium shows of the page: its DOM (charts, subflow lines, failover markers,
    the pair and the gap) and a screenshot that is not blank."""
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    found = (len(re.findall(r'<svg[^>]*class="pair-chart"', html)), len(re.findall(r'<path[^>]*class="subflow"', html)),
             len(re.findall(r'<line[^>]*class="failover-marker"', html)))
    print("\nDOM: %d chart(s), %d subflow line(s), %d failover marker(s), failover gap %s ms" % (found + (gap,)))
    assert found == (charts, lines, markers)
    assert "cli -&gt; srv" in html or "client -&gt; server" in html
    assert "%d ms" % gap in html
    # Nothing the page needs comes from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    shot = page.parent / (page.name + ".png")
    done = chromium("--screenshot=%s" % shot, "--window-size=1200,1600", page.as_uri())
    assert done.returncode == 0, done.stderr
    assert png_size(str(shot)) == (1200, 1600)
    # Not blank: a page of charts compresses far less than an empty one (about 9 KB).
    assert os.path.getsize(str(shot)) > 20000, os.path.getsize(str(shot))


def test_verify_html_in_a_browser(pair, tmp_path):
    """Real transfers (MPTCP, then with c2 taken down) as verify.yml registers them, the
    report and its page; Chromium renders the page: one chart per pair, one line per
    subflow, a marker per failover, the numbers, all without the network."""
    pair.shape()
    mptcp, _server = pair.transfer(size="12M", seed=1)
    failover, _server = pair.transfer(size="12M", seed=2, fail_interface="c2", fail_after_fraction=0.4)
    hostvars = {"cli": {
        "__mptcp_verify_mptcp": {"results": [dict(mptcp, item="srv")]},
        "__mptcp_verify_failover": {"results": [dict(failover, item=["srv", "c2"])]},
    }}
    report = verify_report(hostvars, ["cli"], ["srv"], {"subflows": 2})
    assert report["problems"] == [], report["problems"]
    [entry] = report["pairs"]
    gap = entry["failover"][0]["gap_ms"]
    assert gap == failover["failover"]["gap_ms"] and "gap %d ms" % gap in verify_table(report)
    page = tmp_path / "verify.html"
    page.write_text(verify_html(report))
    (tmp_path / "report.json").write_text(json.dumps(report))
    expected_lines = len(entry["mptcp"]["subflow_stats"]) + len(entry["failover"][0]["subflow_stats"])
    assert expected_lines >= 4
    shown(page, charts=1, lines=expected_lines, markers=1, gap=gap)


def test_a_backup_subflow_is_reported_as_backup(pair):
    """The server's second address is a backup endpoint: the client's subflow to it is
    marked backup (the server's MP_JOIN answer asks for it; the client's events say so),
    and its link carries next to nothing of the data (the links' own counters) while the
    first path is up. (The server's own events of that subflow say backup=0 on 6.18: they
    carry what the peer asked, and the client asked nothing.)"""
    pair.shape()
    pair.server.ip("mptcp", "endpoint", "change", "id", "1", "backup")
    counters = Counters(pair)
    client, server = pair.transfer(size="8M", seed=9)
    counters.stop()
    assert not client.get("failed"), client
    [seen] = server["connections"]
    backup = {s["interface"]: s["backup"] for s in client["subflow_stats"]}
    print("\nbackup flags, client %s, server %s; links sent %s" % (
        backup, {s["interface"]: s["backup"] for s in seen["subflow_stats"]}, counters.sent))
    assert backup == {"c1": False, "c2": True}
    # The backup path carried what the subflow says it sent, and that is next to nothing.
    stats = by_interface(client["subflow_stats"])
    assert stats["c2"]["bytes_sent"] <= counters.sent["c2"] < SLACK


def test_verify_playbook_writes_the_page_beside_its_report(pair, tmp_path):
    """playbooks/verify.yml as a user runs it, its server and client being inventory hosts
    that live in the two namespaces (the server's listener async, as always): the JSON
    report carries each subflow's bytes and the failover's gap, the table shows the gap,
    and verify.html beside them is what Chromium renders with a chart, its lines and the
    failover marked."""
    pair.shape()
    inventory = {"all": {"children": {
        "mptcp_servers": {"hosts": {"server": {"ansible_connection": "local", "mptcp_verify_address": SERVER_ADDRESS,
                                               "ansible_python_interpreter": pair.server.interpreter(str(tmp_path))}}},
        "mptcp_clients": {"hosts": {"client": {"ansible_connection": "local",
                                               "ansible_python_interpreter": pair.client.interpreter(str(tmp_path))}}},
    }}, "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    extra = {"mptcp_verify_report": str(tmp_path / "out" / "report.json"), "mptcp_verify_size": "12MiB",
             "mptcp_verify_timeout": 45, "mptcp_verify_compare_tcp": False, "mptcp_verify_failover": True,
             "mptcp_verify_failover_interfaces": ["c2"], "mptcp_verify_port": 5210}
    (tmp_path / "out").mkdir()
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", LC_ALL="C.UTF-8", ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))
    done = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                           os.path.join(REPO, "playbooks", "verify.yml"), "-e", json.dumps(extra)],
                          capture_output=True, text=True, env=env, timeout=400, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [entry] = report["pairs"]
    [failover] = entry["failover"]
    assert sorted(s["interface"] for s in entry["mptcp"]["subflow_stats"]) == ["c1", "c2"]
    assert all(s["bytes_sent"] and s["bytes_received"] for s in entry["mptcp"]["subflow_stats"])
    assert failover["gap_ms"] and failover["gap_ms"] == failover["failover"]["gap_ms"]
    table = (tmp_path / "out" / "report.txt").read_text()
    print("\n" + table)
    assert "c2 down: ok, gap %d ms" % failover["gap_ms"] in table
    lines = len(entry["mptcp"]["subflow_stats"]) + len(failover["subflow_stats"])
    shown(tmp_path / "out" / "verify.html", charts=1, lines=lines, markers=1, gap=failover["gap_ms"])
