"""The diagnosis of joins that did not form, from `ip -j route get` output recorded on a
lab client of the routed-single-homed topology (iproute2 6.15, Linux 6.18): eth0
198.18.73.20 with the default route via r1 198.18.73.2, eth1 198.18.74.20 with only its
connected subnet, the server 198.18.75.10 behind both routers."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.join_diagnosis import (
    announced_addresses,
    diagnose,
    join_targets,
    joining_endpoints,
    judge_route,
    parse_route_get,
    route_get_argv,
)

SERVER = "198.18.75.10"
NO_ROUTE_TO_HOST = (2, "", "RTNETLINK answers: No route to host\n")
UNREACHABLE = (2, "", "RTNETLINK answers: Network is unreachable\n")
# eth1 without a route of its own: the kernel assumes the server is on eth1's link.
ON_LINK = (0, '[{"dst":"198.18.75.10","from":"198.18.74.20","dev":"eth1","flags":[],"uid":0,"cache":[]}]\n', "")
# The same address without oif: out of eth0, to r1.
BY_ETH0 = (0, '[{"dst":"198.18.75.10","from":"198.18.74.20","gateway":"198.18.73.2","dev":"eth0",'
              '"flags":[],"uid":0,"cache":[]}]\n', "")
# With `ip rule add from 198.18.74.20 table 102` and its default route via r2.
SOURCE_ROUTED = (0, '[{"dst":"198.18.75.10","from":"198.18.74.20","gateway":"198.18.74.3","dev":"eth1",'
                    '"table":"102","flags":[],"uid":0,"cache":[]}]\n', "")
SOURCE_ROUTED_MATCH = (0, '[{"dst":"default","gateway":"198.18.74.3","dev":"eth1","table":"102","flags":[]}]\n', "")
ETH1 = {"id": 2, "address": "198.18.74.20", "port": None, "dev": "eth1", "flags": ["subflow"]}
ETH0 = {"id": 1, "address": "198.18.73.20", "port": None, "dev": "eth0", "flags": ["subflow"]}
KERNEL_COUNTERS = ["MPJoinSynTx", "MPJoinSynAckRx", "MPJoinSynTxCreatSkErr", "MPJoinSynTxBindErr",
                   "MPJoinSynTxConnectErr", "MPCapableSYNTX"]


def runner(answers):
    """run(argv) answering from {argv as text: (rc, out, err)}; it fails on a command the test did not expect."""
    asked = []

    def run(argv):
        asked.append(" ".join(argv))
        return answers[" ".join(argv)]
    run.asked = asked
    return run


def client_result(counters, paths=(), local="198.18.73.20"):
    return {"address": SERVER, "local_address": local, "counters": counters, "paths": list(paths)}


def test_the_commands_are_ip_route_get_with_and_without_fibmatch():
    assert route_get_argv(SERVER, "198.18.74.20", "eth1") == [
        "ip", "-j", "route", "get", SERVER, "from", "198.18.74.20", "oif", "eth1"]
    assert route_get_argv(SERVER, "198.18.74.20", None, fibmatch=True) == [
        "ip", "-j", "route", "get", "fibmatch", SERVER, "from", "198.18.74.20"]


def test_parse_route_get():
    assert parse_route_get(*SOURCE_ROUTED)[0]["gateway"] == "198.18.74.3"
    assert parse_route_get(*NO_ROUTE_TO_HOST) == (None, "RTNETLINK answers: No route to host")
    assert parse_route_get(0, "garbage", "")[0] is None


@pytest.mark.parametrize("dev, route, matched, ok, line", [
    # The kernel's on-link guess: route get answers, fibmatch finds nothing.
    ("eth1", ON_LINK, NO_ROUTE_TO_HOST, False,
     "no route from 198.18.74.20 via eth1 to 198.18.75.10: give this endpoint its gateway"),
    # An endpoint without a device whose address has no route at all.
    (None, UNREACHABLE, UNREACHABLE, False,
     "no route from 198.18.74.20 to 198.18.75.10 (RTNETLINK answers: Network is unreachable): give this endpoint its gateway"),
    ("eth1", BY_ETH0, BY_ETH0, False,
     "no route from 198.18.74.20 via eth1 to 198.18.75.10: it would leave by eth0: give this endpoint its gateway"),
    ("eth1", SOURCE_ROUTED, SOURCE_ROUTED_MATCH, True, None),
    # Without a device, leaving by eth0 is the kernel's choice, not a mistake.
    (None, BY_ETH0, BY_ETH0, True, None),
])
def test_judge_route(dev, route, matched, ok, line):
    entry, problem = judge_route("198.18.74.20", dev, SERVER, *(parse_route_get(*route) + parse_route_get(*matched)))
    assert (entry["ok"], problem) == (ok, line)


def test_source_routed_route_names_its_table_and_gateway():
    entry, _problem = judge_route("198.18.74.20", "eth1", SERVER,
                                  *(parse_route_get(*SOURCE_ROUTED) + parse_route_get(*SOURCE_ROUTED_MATCH)))
    assert (entry["dev"], entry["gateway"], entry["table"]) == ("eth1", "198.18.74.3", "102")


def test_joining_endpoints_leave_out_the_initial_address_and_signal_only():
    signal = dict(ETH1, address="198.18.74.21", flags=["signal"])
    laminar = dict(ETH1, address="198.18.74.22", flags=["laminar"])
    assert joining_endpoints([ETH0, ETH1, signal, laminar], "198.18.73.20") == [ETH1, laminar]


def test_join_targets_by_flags():
    announced = ["198.18.78.10", "2001:db8::10"]
    assert join_targets(ETH1, SERVER, announced) == [SERVER]
    assert join_targets(dict(ETH1, flags=["fullmesh"]), SERVER, announced) == ["198.18.78.10"]
    assert join_targets(dict(ETH1, flags=["subflow", "laminar"]), SERVER, announced) == [SERVER, "198.18.78.10"]


def test_announced_from_events_and_from_paths():
    events = [{"type": "announced", "daddr": "198.18.78.10"}, {"type": "created", "daddr": SERVER}]
    paths = [{"local": "198.18.76.20", "remote": SERVER}, {"local": "198.18.77.20", "remote": "198.18.79.10"}]
    assert announced_addresses(events, paths, SERVER) == ["198.18.78.10", "198.18.79.10"]


def test_no_route_is_the_line():
    run = runner({"ip -j route get 198.18.75.10 from 198.18.74.20 oif eth1": ON_LINK,
                  "ip -j route get fibmatch 198.18.75.10 from 198.18.74.20 oif eth1": NO_ROUTE_TO_HOST})
    joins = diagnose([ETH0, ETH1], client_result({"MPJoinSynTx": 3}), [], KERNEL_COUNTERS, run)
    assert joins["problems"] == ["no route from 198.18.74.20 via eth1 to 198.18.75.10: give this endpoint its gateway"]
    assert joins["counters"] == {"MPJoinSynTx": 3, "MPJoinSynAckRx": 0, "MPJoinSynTxCreatSkErr": 0,
                                 "MPJoinSynTxBindErr": 0, "MPJoinSynTxConnectErr": 0}
    assert [a["address"] for a in joins["addresses"]] == ["198.18.74.20"]
    assert len(run.asked) == 2  # the initial subflow's address is not looked at


def test_a_route_and_unanswered_joins_blame_the_way_back():
    run = runner({"ip -j route get 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED,
                  "ip -j route get fibmatch 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED_MATCH})
    joins = diagnose([ETH0, ETH1], client_result({"MPJoinSynTx": 3}), [], KERNEL_COUNTERS, run)
    assert joins["problems"] == [
        "joins from 198.18.74.20 sent 3, answered 0: the server's replies to 198.18.74.20 do not come back "
        "(its return route or a strict rp_filter)"]


def test_an_established_subflow_is_no_problem():
    run = runner({"ip -j route get 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED,
                  "ip -j route get fibmatch 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED_MATCH})
    paths = [{"local": "198.18.73.20", "remote": SERVER, "state": "established"},
             {"local": "198.18.74.20", "remote": SERVER, "state": "established"}]
    joins = diagnose([ETH0, ETH1], client_result({"MPJoinSynTx": 1, "MPJoinSynAckRx": 1}, paths), [],
                     KERNEL_COUNTERS, run)
    assert joins["problems"] == [] and joins["addresses"][0]["established"] is True
    assert joins["addresses"][0]["routes"][0]["ok"] is True


def test_a_subflow_established_and_closed_again_is_seen_in_the_events():
    run = runner({"ip -j route get 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED,
                  "ip -j route get fibmatch 198.18.75.10 from 198.18.74.20 oif eth1": SOURCE_ROUTED_MATCH})
    events = [{"type": "sf_established", "saddr": "198.18.74.20", "daddr": SERVER}]
    joins = diagnose([ETH0, ETH1], client_result({"MPJoinSynTx": 1, "MPJoinSynAckRx": 1}), events, KERNEL_COUNTERS, run)
    assert joins["problems"] == []


def test_two_joining_addresses_share_the_namespace_counters():
    eth2 = dict(ETH1, address="198.18.79.20", dev="eth2")
    answers = {}
    for source, dev in (("198.18.74.20", "eth1"), ("198.18.79.20", "eth2")):
        answers["ip -j route get %s from %s oif %s" % (SERVER, source, dev)] = SOURCE_ROUTED
        answers["ip -j route get fibmatch %s from %s oif %s" % (SERVER, source, dev)] = SOURCE_ROUTED_MATCH
    paths = [{"local": "198.18.79.20", "remote": SERVER, "state": "established"}]
    joins = diagnose([ETH0, ETH1, eth2], client_result({"MPJoinSynTx": 2, "MPJoinSynAckRx": 1}, paths), [],
                     KERNEL_COUNTERS, runner(answers))
    assert joins["problems"] == [
        "no join from 198.18.74.20 was answered (joins of this host sent 2, answered 1): the server's replies to "
        "198.18.74.20 do not come back (its return route or a strict rp_filter)"]


def test_join_errors_are_named_and_missing_counters_left_out():
    joins = diagnose([ETH0], client_result({"MPJoinSynTx": 1, "MPJoinSynTxBindErr": 2}), [],
                     ["MPJoinSynTx", "MPJoinSynAckRx"], runner({}))
    assert joins["counters"] == {"MPJoinSynTx": 1, "MPJoinSynAckRx": 0, "MPJoinSynTxBindErr": 2}
    assert joins["problems"] == ["2 join(s) were not sent: the subflow could not bind to the endpoint's address "
                                 "(is it still on the host?) (MPJoinSynTxBindErr +2)"]
