"""MPTcpExt counters from /proc/net/netstat recorded on Linux 6.18 around a two-subflow
transfer (both sides) and around a fallback to TCP (fixtures/mptcp_transfer/record.py)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import (
    counter_deltas,
    fallback_reason,
    negotiated_by_counters,
    parse_netstat,
    read_counters,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import recorded_text


def deltas(prefix):
    return counter_deltas(parse_netstat(recorded_text("netstat_%s_before.txt" % prefix)),
                          parse_netstat(recorded_text("netstat_%s_after.txt" % prefix)))


def test_parse_recorded_text():
    # The numbers as awk reads them from the recorded file (name line, value line).
    counters = parse_netstat(recorded_text("netstat_client_after.txt"))
    assert (len(counters), counters["MPCapableSYNTX"], counters["MPJoinAckRx"]) == (76, 2, 0)
    assert "TCPTimeouts" not in counters  # the TcpExt line is another prefix
    tcp = parse_netstat(recorded_text("netstat_client_after.txt"), prefix="TcpExt")
    assert (tcp["TCPTimeouts"], "MPCapableSYNTX" in tcp) == (0, False)


@pytest.mark.parametrize("side, moved_once", [
    ("client", ["MPCapableSYNTX", "MPCapableSYNACKRX", "MPJoinSynTx", "MPJoinSynAckRx", "AddAddr"]),
    ("server", ["MPCapableSYNRX", "MPCapableACKRX", "MPJoinSynRx", "MPJoinAckRx", "AddAddrTx"]),
])
def test_two_subflows(side, moved_once):
    moved = deltas(side)
    assert [moved.get(name) for name in moved_once] == [1] * len(moved_once)
    assert fallback_reason(moved) is None
    assert negotiated_by_counters(moved, side) is True


def test_fallback_plain_tcp_server():
    moved = deltas("fallback")
    assert moved == {"MPCapableSYNTX": 1, "MPCapableFallbackSYNACK": 1}
    reason = fallback_reason(moved)
    assert reason.startswith("the server answered without MP_CAPABLE")
    assert reason.endswith("(MPCapableFallbackSYNACK +1)")
    assert negotiated_by_counters(moved, "client") is False


def test_gauges_left_out():
    assert counter_deltas({"MPCurrEstab": 3, "MPJoinSynTx": 1}, {"MPCurrEstab": 1, "MPJoinSynTx": 1}) == {}


def test_first_reason_wins_and_counters_missing_on_older_kernels():
    moved = {"MPCapableSYNTXDrop": 2, "MPCapableFallbackSYNACK": 1}
    assert "MPCapableSYNTXDrop +2" in fallback_reason(moved)
    assert counter_deltas({}, {"Blackhole": 1}) == {"Blackhole": 1}


def test_no_handshake_at_all():
    assert negotiated_by_counters({}, "client") is None
    assert negotiated_by_counters({}, "server") is None


def test_no_mptcp_in_kernel():
    assert parse_netstat("TcpExt: A B\nTcpExt: 1 2\n") == {}


@pytest.mark.parametrize("text", [
    "MPTcpExt: A B\nMPTcpExt: 1\n",
    "MPTcpExt: A B\n",
    "MPTcpExt: A B\nMPTcpExt: 1 x\n",
])
def test_malformed(text):
    with pytest.raises(MptcpError, match="MPTcpExt"):
        parse_netstat(text)


def test_read_counters(tmp_path):
    path = tmp_path / "netstat"
    path.write_text(recorded_text("netstat_server_after.txt"))
    assert read_counters(str(path)) == parse_netstat(recorded_text("netstat_server_after.txt"))
    assert read_counters(str(path))["MPJoinAckRx"] == 2
    with pytest.raises(MptcpError, match="cannot read"):
        read_counters(str(tmp_path / "missing"))
