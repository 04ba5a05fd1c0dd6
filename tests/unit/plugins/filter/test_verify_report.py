"""The verify playbook's report from recorded mptcp_transfer results."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.filter.verify_report import verify_report, verify_table

SIZE = 25165824


def transfer(server="srv", mbit=90.0, mptcp=True, subflows=2, matched=True, received=SIZE, **extra):
    result = {"item": server, "mptcp": mptcp, "subflows_max": subflows, "mbit_per_s": mbit, "size": SIZE,
              "checksum_matched": matched, "bytes": SIZE, "server": {"bytes": received, "protocol": "mptcp"},
              "fallback_reason": None if mptcp else "MPCapableFallbackSYNACK +1",
              "events": [{"type": "created", "line": "[ CREATED] token=1"}], "paths": [], "failover": None}
    result.update(extra)
    return result


def hostvars(tcp=None, mptcp=None, failover=None, services=None):
    return {"cli": {
        "__mptcp_verify_tcp": {"results": [tcp or transfer(mbit=47.0, mptcp=False, subflows=1)]},
        "__mptcp_verify_mptcp": {"results": [mptcp or transfer()]},
        "__mptcp_verify_failover": {"results": failover or []},
        "__mptcp_verify_services": {"results": services or []},
    }}


def test_a_good_pair_has_no_problem_and_its_ratio():
    report = verify_report(hostvars(), ["cli"], ["srv"], {"subflows": 2, "min_ratio": 1.6})
    assert report["problems"] == []
    assert report["pairs"][0]["ratio"] == 1.91
    assert report["pairs"][0]["mptcp"]["events"] == ["[ CREATED] token=1"]


def test_fallback_subflows_and_ratio_are_named():
    report = verify_report(hostvars(mptcp=transfer(mptcp=False, subflows=1, mbit=47.0)), ["cli"], ["srv"],
                           {"subflows": 2, "min_ratio": 1.6})
    text = " ".join(report["problems"])
    assert "fell back to TCP: MPCapableFallbackSYNACK +1" in text
    assert "1 subflows, 2 expected" in text
    assert "ratio 1.0, at least 1.6 expected" in text


def test_failover_must_complete_without_losing_bytes():
    ok = transfer(item=["srv", "eth1"], failover={"completed": True})
    lost = transfer(item=["srv", "eth0"], failover={"completed": True}, received=SIZE - 100)
    broken = transfer(item=["srv", "eth0"], failover={"completed": False})
    report = verify_report(hostvars(failover=[ok, lost]), ["cli"], ["srv"])
    assert report["problems"] == ["cli -> srv with eth0 down: 100 bytes lost"]
    assert "did not complete intact" in verify_report(hostvars(failover=[broken]), ["cli"], ["srv"])["problems"][0]


def test_a_service_that_answers_in_tcp_is_a_problem():
    services = [{"item": ["srv", 5201], "mptcp": False, "fallback_reason": "nothing listens with MPTCP"}]
    report = verify_report(hostvars(services=services), ["cli"], ["srv"])
    assert report["problems"] == ["cli -> srv: the service on port 5201 did not answer in MPTCP: nothing listens with MPTCP"]


def test_no_pairs_is_a_problem():
    assert verify_report({}, [], ["srv"])["problems"]


def test_table_has_a_row_per_pair():
    table = verify_table(verify_report(hostvars(), ["cli"], ["srv"]))
    header, row = table.split("\n")
    assert header.split()[:3] == ["pair", "MPTCP", "subflows"]
    assert row.split()[:8] == ["cli", "->", "srv", "yes", "2", "47.0", "90.0", "1.91"]


NO_ROUTE = "no route from 198.18.74.20 via eth1 to 198.18.75.10: give this endpoint its gateway"


def test_the_join_diagnosis_explains_missing_subflows():
    joins = {"counters": {"MPJoinSynTx": 1, "MPJoinSynAckRx": 0}, "problems": [NO_ROUTE]}
    report = verify_report(hostvars(mptcp=transfer(subflows=1, joins=joins)), ["cli"], ["srv"], {"subflows": 2})
    assert report["problems"] == ["cli -> srv: 1 subflows, 2 expected", "cli -> srv: " + NO_ROUTE]
    assert report["pairs"][0]["diagnosis"] == [NO_ROUTE]
    assert verify_table(report).split("\n")[2] == "cli -> srv: " + NO_ROUTE


def test_the_diagnosis_stays_out_while_the_subflows_are_there():
    # A line about another endpoint does not fail a pair that reached its subflows.
    joins = {"counters": {}, "problems": [NO_ROUTE]}
    report = verify_report(hostvars(mptcp=transfer(subflows=2, joins=joins)), ["cli"], ["srv"], {"subflows": 2})
    assert report["problems"] == [] and report["pairs"][0]["diagnosis"] == []
    assert len(verify_table(report).split("\n")) == 2


def test_null_expects_no_subflow_count_only_reports_it():
    for null in (None, "null", ""):
        report = verify_report(hostvars(mptcp=transfer(subflows=1)), ["cli"], ["srv"], {"subflows": null})
        assert report["problems"] == [], (null, report["problems"])
    report = verify_report(hostvars(mptcp=transfer(subflows=1)), ["cli"], ["srv"], {"subflows": 2})
    assert report["problems"] == ["cli -> srv: 1 subflows, 2 expected"], report["problems"]


def rejoined(interface="eth1", seconds=0.4, **rejoin):
    report = dict({"away": "address", "subflow_closed": True, "closed_after_seconds": 3.2, "rejoined": seconds is not None,
                   "rejoin_seconds": seconds, "new_subflow": seconds is not None}, **rejoin)
    return transfer(item=["srv", interface], rejoin=report)


def with_rejoin(*results):
    found = hostvars()
    found["cli"]["__mptcp_verify_rejoin"] = {"results": list(results)}
    return found


def test_a_path_used_again_within_the_bound_is_reported_and_no_problem():
    report = verify_report(with_rejoin(rejoined()), ["cli"], ["srv"], {"rejoin_max_seconds": 5})
    assert report["problems"] == []
    (rejoin,) = report["pairs"][0]["rejoin"]
    assert (rejoin["interface"], rejoin["rejoin_seconds"], rejoin["new_subflow"]) == ("eth1", 0.4, True)
    assert ("cli -> srv: eth1 taken away (address) and given back: used again after 0.4 s by a new subflow "
            "(its subflow closed 3.2 s after it went)") in verify_table(report)


def test_a_path_not_used_again_or_too_late_is_a_problem_unless_only_reported():
    results = with_rejoin(rejoined(seconds=None), rejoined("eth0", seconds=6.5))
    assert verify_report(results, ["cli"], ["srv"], {"rejoin_max_seconds": 5})["problems"] == [
        "cli -> srv with eth1 taken away (address) and given back: the connection did not use it again (within 5 s expected)",
        "cli -> srv with eth0 taken away (address) and given back: used again after 6.5 s, within 5 s expected"]
    report = verify_report(results, ["cli"], ["srv"], {"rejoin_max_seconds": None})
    assert report["problems"] == []
    assert "eth1 taken away (address) and given back: NOT used again" in verify_table(report)


@pytest.mark.parametrize("bound", ["soon", 0, -3, True and "1s"])
def test_a_bound_that_is_not_seconds_is_refused_naming_it(bound):
    with pytest.raises(AnsibleFilterError, match="mptcp_verify_rejoin_max_seconds %r is not a number of seconds" % (bound,)):
        verify_report(with_rejoin(rejoined()), ["cli"], ["srv"], {"rejoin_max_seconds": bound})


def subflow(interface, received, backup=False, acked=None):
    """A subflow the client marked backup (or not): its path manager's event says backup=0,
    the server's says the client's flag."""
    return {"interface": interface, "backup": False, "bytes_sent": received, "bytes_acked": acked,
            "local": "10.0.%s.1" % interface[-1], "local_port": 1, "remote": "10.0.%s.2" % interface[-1], "remote_port": 2,
            "received": received, "server_backup": backup}


def with_subflows(*subflows, **extra):
    """A transfer whose subflows carried what each subflow() says, as the server saw it."""
    client = [dict((k, v) for k, v in s.items() if k not in ("received", "server_backup")) for s in subflows]
    server = [{"remote": s["local"], "remote_port": s["local_port"], "local": s["remote"], "local_port": s["remote_port"],
               "bytes_received": s["received"], "interface": s["interface"], "backup": s["server_backup"]}
              for s in subflows]
    result = transfer(**extra)
    result["subflow_stats"] = client
    result["server"]["subflow_stats"] = server
    return result


BACKUP = {"subflows": 2, "backup_interfaces": ["eth1"]}


def test_the_shares_of_the_interfaces_are_what_their_subflows_carried():
    mptcp = with_subflows(subflow("eth0", 750), subflow("eth1", 250), subflow("eth2", 0, acked=0))
    pair = verify_report(hostvars(mptcp=mptcp), ["cli"], ["srv"])["pairs"][0]
    assert pair["mptcp"]["interface_shares"] == {"eth0": 0.75, "eth1": 0.25, "eth2": 0.0}
    assert "backup_share" not in pair["mptcp"]


def test_an_idle_backup_path_passes_and_its_share_is_reported():
    mptcp = with_subflows(subflow("eth0", 99900), subflow("eth1", 100, backup=True))
    moved = with_subflows(subflow("eth0", 40000), subflow("eth1", 60000, backup=True), item=["srv", "eth0"],
                          failover={"completed": True, "after_bytes": SIZE - 60000})
    report = verify_report(hostvars(mptcp=mptcp, failover=[moved]), ["cli"], ["srv"], BACKUP)
    assert report["problems"] == []
    assert report["pairs"][0]["mptcp"]["backup_share"] == 0.001
    assert "backup paths carried 0.1% of the bytes while the others were up, 60.0% after eth0 went down" \
        in verify_table(report)


def test_a_backup_path_that_carries_more_than_one_percent_is_a_problem():
    mptcp = with_subflows(subflow("eth0", 98000), subflow("eth1", 2000, backup=True))
    report = verify_report(hostvars(mptcp=mptcp), ["cli"], ["srv"], BACKUP)
    assert report["problems"] == ["cli -> srv: the backup path(s) eth1 carried 2.0% of the bytes while the others "
                                  "were up, at most 1.0% expected"]
    assert verify_report(hostvars(mptcp=mptcp), ["cli"], ["srv"], dict(BACKUP, max_backup_share=0.05))["problems"] == []


def test_a_backup_path_must_be_flagged_backup_exist_and_take_over():
    not_flagged = with_subflows(subflow("eth0", 100000), subflow("eth1", 0))
    assert "neither kernel flags the subflows over eth1 backup" in verify_report(
        hostvars(mptcp=not_flagged), ["cli"], ["srv"], BACKUP)["problems"][0]
    no_backup = with_subflows(subflow("eth0", 100000))
    assert verify_report(hostvars(mptcp=no_backup), ["cli"], ["srv"], BACKUP)["problems"] == [
        "cli -> srv: no subflow over the backup interface(s) eth1"]
    mptcp = with_subflows(subflow("eth0", 100000), subflow("eth1", 0, backup=True))
    stuck = with_subflows(subflow("eth0", 100000), subflow("eth1", 0, backup=True), item=["srv", "eth0"],
                          failover={"completed": True, "after_bytes": SIZE - 50000})
    assert verify_report(hostvars(mptcp=mptcp, failover=[stuck]), ["cli"], ["srv"], BACKUP)["problems"] == [
        "cli -> srv with eth0 down: the backup path(s) eth1 carried 0 bytes, less than the 50000 written after it went down"]
    too_little = with_subflows(subflow("eth0", 100000), subflow("eth1", 49999, backup=True), item=["srv", "eth0"],
                               failover={"completed": True, "after_bytes": SIZE - 50000})
    assert "carried 49999 bytes, less than the 50000" in verify_report(
        hostvars(mptcp=mptcp, failover=[too_little]), ["cli"], ["srv"], BACKUP)["problems"][0]


def test_a_failover_gap_longer_than_the_limit_is_a_problem():
    short = transfer(item=["srv", "eth1"], failover={"completed": True, "gap_ms": 420})
    long_ = transfer(item=["srv", "eth0"], failover={"completed": True, "gap_ms": 1023})
    failovers = [dict(short, failover=dict(short["failover"])), dict(long_, failover=dict(long_["failover"]))]
    report = verify_report(hostvars(failover=failovers), ["cli"], ["srv"], {"max_gap_ms": 1000})
    assert report["problems"] == ["cli -> srv with eth0 down: the receiver got no new bytes for 1023 ms, at most 1000 ms expected"]
    assert verify_report(hostvars(failover=failovers), ["cli"], ["srv"], {"max_gap_ms": None})["problems"] == []
