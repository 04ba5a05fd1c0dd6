"""The per-subflow series, the receiver's timeline and the bounded series under them, with
a clock the tests move; and struct tcp_info's byte counters from bytes laid out as the
kernel's uapi header says."""

import struct

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.bounded_series import BoundedSeries
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import TCP_INFO_SIZE, parse_tcp_info
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.receive_timeline import ReceiveTimeline
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.subflow_series import SubflowSeries


def tcp_info(state=1, acked=0, received=0, sent=0, retrans=0, size=TCP_INFO_SIZE):
    data = bytearray(size)
    data[0] = state
    for offset, value in ((120, acked), (128, received), (200, sent), (208, retrans)):
        if offset + 8 <= size:
            struct.pack_into("=Q", data, offset, value)
    return bytes(data)


def test_tcp_info_byte_counters():
    assert parse_tcp_info(tcp_info(acked=1001, received=7, sent=1000, retrans=3)) == {
        "state": "established", "bytes_acked": 1001, "bytes_received": 7, "bytes_sent": 1000, "bytes_retrans": 3}
    # A shorter struct (an old kernel's, or cut short): only the counters it covers whole.
    assert parse_tcp_info(tcp_info(acked=5, size=136)) == {"state": "established", "bytes_acked": 5,
                                                           "bytes_received": 0}
    assert parse_tcp_info(tcp_info(acked=5, size=132)) == {"state": "established", "bytes_acked": 5}
    assert parse_tcp_info(tcp_info(state=7, size=8)) == {"state": "close"}


def test_bounded_series_keeps_its_interval_and_its_bound():
    series = BoundedSeries(origin=100.0, interval=0.1, limit=10)
    kept = [series.add(100.0 + step * 0.05, step) for step in range(200)]
    assert kept[:4] == [True, False, True, False]
    assert len(series.samples) <= 10
    # Thinned by halves: the first sample stays, the interval doubled each time.
    assert series.samples[0] == [0.0, 0] and series.interval > 0.1
    assert series.add(200.0, "last", force=True) and series.samples[-1] == [100.0, "last"]


def subflow(local, port, **counters):
    return dict({"state": "established", "local": local, "local_port": port, "remote": "198.18.101.1",
                 "remote_port": 5210}, **counters)


def test_subflow_series_keeps_each_subflow_and_its_counter():
    series = SubflowSeries(origin=10.0, counter="bytes_acked")
    series.add(10.0, [subflow("198.18.101.2", 1000, bytes_acked=1, bytes_sent=0)], force=True)
    series.add(10.1, [subflow("198.18.101.2", 1000, bytes_acked=500, bytes_sent=600),
                      subflow("198.18.102.2", 2000, bytes_acked=1, bytes_sent=0)])
    series.add(10.15, [subflow("198.18.101.2", 1000, bytes_acked=700)])  # too soon: counters only
    # The first subflow is gone (closed): it keeps its last counters.
    series.add(10.3, [subflow("198.18.102.2", 2000, bytes_acked=900, bytes_sent=950, state="established")])
    events = [{"type": "sf_established", "saddr": "198.18.102.2", "sport": 2000, "daddr": "198.18.101.1",
               "dport": 5210, "backup": 1}]
    subflows, samples = series.report({"198.18.101.2": "eth0", "198.18.102.2": "eth1"}, events)
    assert [(s["local"], s["interface"], s["backup"], s["bytes_acked"], s["bytes_sent"]) for s in subflows] == [
        ("198.18.101.2", "eth0", False, 700, 600), ("198.18.102.2", "eth1", True, 900, 950)]
    assert (subflows[0]["first_seconds"], subflows[0]["last_seconds"]) == (0.0, 0.15)
    assert samples == {"counter": "bytes_acked", "interval": 0.1,
                       "samples": [[0.0, [1, None]], [0.1, [500, 1]], [0.3, [None, 900]]]}
    # Without events nothing is known of backup.
    assert [s["backup"] for s in series.report({}, [])[0]] == [None, None]


def test_receive_timeline_longest_gap_between_arrivals():
    timeline = ReceiveTimeline(origin=50.0)
    for now, total in ((50.01, 100), (50.02, 200), (50.05, 300), (50.75, 400), (50.76, 500)):
        timeline.received(now, total)
    report = timeline.report()
    assert report["longest_gap_ms"] == 700 and report["longest_gap_at_seconds"] == 0.05
    assert report["longest_gap_after_bytes"] == 300
    # Sampled at most every 0.1 s, the last arrival always there.
    assert report["samples"] == [[0.01, 100], [0.75, 400], [0.76, 500]]


def test_receive_timeline_without_data():
    assert ReceiveTimeline(origin=0.0).report() == {"interval": 0.1, "samples": [], "longest_gap_ms": 0,
                                                    "longest_gap_at_seconds": None, "longest_gap_after_bytes": None}
