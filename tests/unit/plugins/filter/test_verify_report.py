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
