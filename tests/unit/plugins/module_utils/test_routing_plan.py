"""The pure planner of mptcp_source_routing (routing/plan.py): the tables and priorities
it chooses, what it refuses, and the actions it plans, from rules and routes as
backend_iproute2 reads them. The kernel tests run the same decisions for real."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import make_route, make_rule, rule_text, route_text
from ansible_collections.mptcp.linux.plugins.module_utils.routing.plan import (
    HostRouting,
    is_stray_rule,
    plan_absent,
    plan_exclusive,
    plan_present,
    routing_tracker,
)

RANGES = ((1000, 1999), (1000, 1999))
KERNEL_RULES = [make_rule(4, 0, None, 255), make_rule(4, 32766, None, 254), make_rule(4, 32767, None, 253)]


def entry(address="198.18.62.2", gateway="198.18.62.1", dev="eth1", table=None, priority=None,
          prefix="198.18.62.0/24", family=4):
    return dict(address=address, gateway=gateway, dev=dev, table=table, priority=priority, prefix=prefix, family=family)


def host(rules=(), routes=(), rules6=(), routes6=()):
    texts = [dict(r, text=rule_text(r)) for r in list(rules)]
    return HostRouting({4: KERNEL_RULES + texts, 6: list(rules6)},
                       {4: [dict(r, text=route_text(r)) for r in routes], 6: list(routes6)})


def ours(table=1000, priority=1000, gateway="198.18.62.1"):
    return ([make_rule(4, priority, "198.18.62.2", table)],
            [make_route(4, table, "198.18.62.0/24", "eth1"), make_route(4, table, "default", "eth1", gateway)])


def ops(plan):
    return [(a["op"], a["item"].get("dst") or a["item"].get("src"), a["item"]["table"]) for a in plan.actions]


def test_a_fresh_host_gets_the_lowest_table_and_priority_routes_first():
    plan = plan_present(host(), [entry()], *RANGES)
    assert (plan.resolved[0]["table"], plan.resolved[0]["priority"]) == (1000, 1000)
    assert ops(plan) == [("replace_route", "198.18.62.0/24", 1000), ("replace_route", "default", 1000),
                         ("add_rule", "198.18.62.2", 1000)]


def test_taken_tables_and_priorities_are_skipped():
    taken = host(rules=[make_rule(4, 1000, None, 1003), make_rule(4, 1001, "10.0.0.1", 1001)],
                 routes=[make_route(4, 1000, "10.0.0.0/8", "eth0", "10.0.0.1")],
                 rules6=[make_rule(6, 1002, None, 1002)])
    plan = plan_present(taken, [entry(), entry(address="198.18.63.2", prefix="198.18.63.0/24", dev="eth2")], *RANGES)
    assert [(r["table"], r["priority"]) for r in plan.resolved] == [(1004, 1003), (1005, 1004)]


def test_the_rule_already_ours_is_reused_and_nothing_is_done():
    rules, routes = ours(table=1500, priority=1700)
    plan = plan_present(host(rules, routes + [make_route(4, 1000, "10.0.0.0/8", "eth0")]), [entry()], *RANGES)
    assert (plan.resolved[0]["table"], plan.resolved[0]["priority"]) == (1500, 1700)
    assert plan.actions == []


def test_a_new_gateway_replaces_the_old_default_route():
    rules, routes = ours(gateway="198.18.62.9")
    plan = plan_present(host(rules, routes), [entry()], *RANGES)
    assert [a["line"] for a in plan.actions] == [
        "delete route 'default via 198.18.62.9 dev eth1' from IPv4 table 1000 (replaced)",
        "add route 'default via 198.18.62.1 dev eth1' to IPv4 table 1000"]


def test_a_new_table_given_moves_the_rule():
    rules, routes = ours()
    plan = plan_present(host(rules, routes), [entry(table=1200)], *RANGES)
    assert plan.resolved[0]["priority"] == 1000
    assert ops(plan) == [("replace_route", "198.18.62.0/24", 1200), ("replace_route", "default", 1200),
                         ("add_rule", "198.18.62.2", 1200), ("delete_rule", "198.18.62.2", 1000),
                         ("delete_route", "default", 1000), ("delete_route", "198.18.62.0/24", 1000)]


def test_an_old_table_another_rule_still_looks_up_keeps_its_routes():
    rules, routes = ours()
    plan = plan_present(host(rules + [make_rule(4, 1500, "198.18.62.2", 1000, "iif eth1")], routes),
                        [entry(table=1200)], *RANGES)
    assert [op for op, _what, table in ops(plan) if table == 1000] == ["delete_rule"]


@pytest.mark.parametrize("found, wanted, message", [
    (host(routes=[make_route(4, 1000, "default", "eth3", "198.18.9.1")]), entry(table=1000),
     "table 1000 already holds 'default via 198.18.9.1 dev eth3' (IPv4), which mptcp_source_routing did not make: "
     "give routes[0].table another table"),
    (host(rules=[make_rule(4, 10, None, 1000, "fwmark 0x1")]), entry(table=1000),
     "table 1000 is already looked up by rule '10: from all fwmark 0x1 lookup 1000' (IPv4)"),
    (host(rules6=[make_rule(6, 10, "2001:db8::1", 1000)]), entry(table=1000),
     "table 1000 is already looked up by rule '10: from 2001:db8::1 lookup 1000' (IPv6)"),
    (host(rules=[make_rule(4, 1000, "198.18.62.7", 1500)]), entry(priority=1000),
     "priority 1000 is already held by rule '1000: from 198.18.62.7 lookup 1500' (IPv4), which mptcp_source_routing "
     "did not make: give routes[0].priority another priority"),
    # A table of ours that holds a route of someone else's.
    (host(*[a + b for a, b in zip(ours(), ([], [make_route(4, 1000, "10.0.0.0/8", "eth1", "198.18.62.1")]))]),
     entry(), "table 1000 already holds '10.0.0.0/8 via 198.18.62.1 dev eth1'"),
])
def test_collisions_are_refused_naming_the_table_or_priority(found, wanted, message):
    with pytest.raises(ValidationError) as error:
        plan_present(found, [wanted], *RANGES)
    assert message in str(error.value)


def test_a_full_range_is_refused():
    with pytest.raises(ValidationError) as error:
        plan_present(host(rules=[make_rule(4, 5, None, 1000)]), [entry()], (1000, 1000), (1000, 1999))
    assert "no free table left in table_range=[1000, 1000]" in str(error.value)


def test_absent_removes_exactly_ours():
    rules, routes = ours()
    foreign = [make_route(4, 1000, "10.0.0.0/8", "eth1", "198.18.62.1"), make_route(4, 1001, "default", "eth1", "198.18.62.1")]
    plan = plan_absent(host(rules + [make_rule(4, 900, None, 1001)], routes + foreign), [entry(prefix=None)], *RANGES)
    assert ops(plan) == [("delete_rule", "198.18.62.2", 1000), ("delete_route", "default", 1000),
                         ("delete_route", "198.18.62.0/24", 1000)]
    assert plan.resolved[0]["prefix"] == "198.18.62.0/24"
    after = plan.after
    assert [r["priority"] for r in after.rules[4]] == [0, 32766, 32767, 900]
    assert [route_text(r) for r in after.routes[4]] == [route_text(r) for r in foreign]


def test_absent_of_what_is_not_there_does_nothing():
    assert plan_absent(host(), [entry(prefix=None)], *RANGES).actions == []


def test_the_diff_shows_the_concerned_rules_and_tables():
    plan = plan_present(host(), [entry()], *RANGES)
    diff = routing_tracker(plan, plan.after).diff()
    assert diff["before"] == {"ipv4 rules": [], "ipv4 table 1000": []}
    assert diff["after"] == {"ipv4 rules": ["1000: from 198.18.62.2 lookup 1000"],
                             "ipv4 table 1000": ["198.18.62.0/24 dev eth1", "default via 198.18.62.1 dev eth1"]}


def test_exclusive_plans_the_unlisted_rule_of_ours_and_its_table_away_default_first():
    stray = [make_rule(4, 1001, "198.18.63.2", 1001)]
    stray_routes = [make_route(4, 1001, "198.18.63.0/24", "eth2"), make_route(4, 1001, "default", "eth2", "198.18.63.1")]
    rules, routes = ours()
    found = host(rules + stray, routes + stray_routes)
    plan = plan_exclusive(plan_present(found, [entry()], *RANGES), found, *RANGES)
    assert ops(plan) == [("delete_rule", "198.18.63.2", 1001), ("delete_route", "default", 1001),
                         ("delete_route", "198.18.63.0/24", 1001)]
    assert plan.warnings == []


def test_exclusive_leaves_a_rule_whose_table_holds_a_route_it_never_makes_and_warns():
    found = host([make_rule(4, 1001, "198.18.63.2", 1001)], [make_route(4, 1001, "10.0.0.0/8", "eth2", "198.18.63.1")])
    plan = plan_exclusive(plan_present(found, [], *RANGES), found, *RANGES)
    assert plan.actions == [] and plan.kept_tables == set([(4, 1001)])
    assert plan.warnings == ["rule '1001: from 198.18.63.2 lookup 1001' (IPv4) is left: its table 1001 also holds "
                             "'10.0.0.0/8 via 198.18.63.1 dev eth2', which mptcp_source_routing does not make"]


@pytest.mark.parametrize("rule, stray", [
    (make_rule(4, 1001, "198.18.63.2", 1001), True),
    (make_rule(4, 1001, "198.18.62.2", 1001), False),  # listed
    (make_rule(4, 1001, "198.18.63.0/24", 1001), False),  # a subnet
    (make_rule(4, 999, "198.18.63.2", 1001), False),  # priority outside
    (make_rule(4, 1001, "198.18.63.2", 2000), False),  # table outside
    (make_rule(4, 1001, "198.18.63.2", 1001, "fwmark 0x1"), False),  # another selector
    (make_rule(4, 1001, None, 1001), False),  # from all
])
def test_what_exclusive_calls_ours(rule, stray):
    assert is_stray_rule(rule, set(["198.18.62.2"]), *RANGES) is stray
