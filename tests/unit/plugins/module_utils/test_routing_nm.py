"""The profile side of mptcp_source_routing (routing/networkmanager.py) against nmcli's
text as NetworkManager 1.42 (Debian 12) and 1.52 (Debian 13) printed it in the lab:
`nmcli -g ipv4.routing-rules,ipv4.routes,ipv6.routing-rules,ipv6.routes connection show`."""

from ansible_collections.mptcp.linux.plugins.module_utils.routing.networkmanager import (
    PROPERTIES,
    NmRouting,
    Profile,
    drop_strays,
    parse_route,
    parse_rule,
    plan_profile,
    route_entry,
    rule_entry,
    unescape,
)
from ansible_collections.mptcp.linux.plugins.module_utils.routing.plan import is_stray_rule, our_rules

# Recorded: NM 1.42 (IPv4) and 1.52 (IPv6, ':' escaped by -g).
GET_VALUES = ("priority 1000 from 198.18.69.10 table 1000\n"
              "0.0.0.0/0 198.18.69.1 table=1000, 198.18.69.0/24 table=1000\n"
              "priority 1001 from 2001\\:db8\\:69\\:\\:11 table 1001\n"
              "\\:\\:/0 2001\\:db8\\:69\\:\\:1 table=1001, 2001\\:db8\\:69\\:\\:/64 table=1001\n")
ACTIVE = "eth0:98ed4ffe-8344-517e-9831-a20f11935d2c:lab-eth0\nlo:8b8a:lo\neth1:2b93f61c-0e28-5129-bb2a-4ebd83fa148d:lab-eth1\n"
ENTRY = dict(address="198.18.69.10", gateway="198.18.69.1", dev="eth1", table=1000, priority=1000,
             prefix="198.18.69.0/24", family=4)


def client(outputs):
    calls = []

    def run(argv):
        calls.append(argv)
        return outputs.pop(0)
    return NmRouting(run, "/usr/bin/nmcli"), calls


def test_a_profile_is_read_with_its_escapes_undone():
    nm, calls = client([(0, GET_VALUES, "")])
    profile = nm.read_profile("2b93", "lab-eth1", "eth1")
    assert calls == [["/usr/bin/nmcli", "-g", ",".join(PROPERTIES), "connection", "show", "uuid", "2b93"]]
    assert profile.values["ipv6.routes"] == ["::/0 2001:db8:69::1 table=1001", "2001:db8:69::/64 table=1001"]
    assert [(r["priority"], r["src"], r["table"], r["extra"]) for r in profile.rules()] == [
        (1000, "198.18.69.10", 1000, ""), (1001, "2001:db8:69::11", 1001, "")]


def test_active_profiles_by_device():
    nm, _calls = client([(0, ACTIVE, "")])
    assert nm.active_profiles()["eth1"] == ("2b93f61c-0e28-5129-bb2a-4ebd83fa148d", "lab-eth1")


def test_entries_round_trip():
    rule = parse_rule("priority 1000 from 198.18.69.10/32 table 1000", 4)
    assert rule_entry(rule) == "priority 1000 from 198.18.69.10 table 1000"
    default = parse_route("0.0.0.0/0 198.18.69.1 200 table=1000", 4, "eth1")
    assert (default["dst"], default["gateway"], default["table"], default["extra"]) == ("default", "198.18.69.1", 1000, "")
    assert route_entry(default) == "0.0.0.0/0 198.18.69.1 table=1000"
    assert parse_route("10.0.0.0/8 10.1.1.1 onlink=true", 4, "eth1")["extra"] == "onlink=true"
    assert parse_route("::/0 2001:db8::1 table=7", 6, "eth1")["dst"] == "default"


def _plan(values, state="present", entry=None):
    entry = entry or ENTRY
    profile = Profile("u", "lab-eth1", "eth1", values)
    return plan_profile(profile, [entry], state, lambda rules, e: our_rules(rules, e, (1000, 1999), (1000, 1999)))


def test_present_adds_the_rule_and_routes_keeping_the_others():
    values, lines = _plan({"ipv4.routes": ["10.0.0.0/8 198.18.69.5"]})
    assert values["ipv4.routes"] == ["10.0.0.0/8 198.18.69.5", "198.18.69.0/24 table=1000",
                                     "0.0.0.0/0 198.18.69.1 table=1000"]
    assert values["ipv4.routing-rules"] == ["priority 1000 from 198.18.69.10 table 1000"]
    assert lines[-1] == "profile lab-eth1: add ipv4.routing-rules 'priority 1000 from 198.18.69.10 table 1000'"


def test_present_twice_writes_nothing_and_a_new_gateway_replaces_the_old():
    done, _lines = _plan({})
    assert _plan(done)[1] == []
    values, lines = _plan(done, entry=dict(ENTRY, gateway="198.18.69.2"))
    assert values["ipv4.routes"] == ["198.18.69.0/24 table=1000", "0.0.0.0/0 198.18.69.2 table=1000"]
    assert lines == ["profile lab-eth1: remove ipv4.routes '0.0.0.0/0 198.18.69.1 table=1000'",
                     "profile lab-eth1: add ipv4.routes '0.0.0.0/0 198.18.69.2 table=1000'"]


def test_absent_removes_exactly_ours():
    done, _lines = _plan({"ipv4.routes": ["10.0.0.0/8 198.18.69.5 table=1000"],
                          "ipv4.routing-rules": ["priority 5 from all table 1000"]})
    values, lines = _plan(done, state="absent")
    assert values["ipv4.routes"] == ["10.0.0.0/8 198.18.69.5 table=1000"]
    assert values["ipv4.routing-rules"] == ["priority 5 from all table 1000"]
    assert len(lines) == 3
    assert unescape("a\\:b\\\\c") == "a:b\\c"


def nothing_listed(rule):
    return is_stray_rule(rule, set(), (1000, 1999), (1000, 1999))


def test_exclusive_takes_an_unlisted_rule_of_ours_and_its_tables_routes_out_of_the_profile():
    profile = Profile("u", "lab-eth1", "eth1", {"ipv4.routing-rules": ["priority 1000 from 198.18.69.10 table 1000"],
                                                "ipv4.routes": ["0.0.0.0/0 198.18.69.1 table=1000", "198.18.69.0/24 table=1000",
                                                                "10.1.0.0/16 198.18.69.1"]})
    values = dict((prop, list(items)) for prop, items in profile.values.items())
    lines, warnings, addresses = drop_strays(profile, values, nothing_listed, set())
    assert values["ipv4.routing-rules"] == [] and values["ipv4.routes"] == ["10.1.0.0/16 198.18.69.1"]
    assert lines[0] == "profile lab-eth1: remove ipv4.routing-rules 'priority 1000 from 198.18.69.10 table 1000' (address not listed)"
    assert len(lines) == 3 and warnings == [] and addresses == set(["198.18.69.10"])


def test_exclusive_leaves_a_profile_rule_whose_table_holds_more_and_warns():
    profile = Profile("u", "lab-eth1", "eth1", {"ipv4.routing-rules": ["priority 1000 from 198.18.69.10 table 1000"],
                                                "ipv4.routes": ["10.1.0.0/16 198.18.69.1 table=1000"]})
    values = dict((prop, list(items)) for prop, items in profile.values.items())
    lines, warnings, addresses = drop_strays(profile, values, nothing_listed, set())
    assert values == profile.values and lines == [] and addresses == set()
    assert "is left: its table 1000 also holds ipv4.routes '10.1.0.0/16 198.18.69.1 table=1000'" in warnings[0]
