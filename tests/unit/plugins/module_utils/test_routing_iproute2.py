"""The routing backend's reading of `ip -N -j rule|route` (recorded on this machine's
iproute2 6.1 and from NetworkManager's rules in the lab), and boot_argv, the commands the
role's boot unit runs."""

from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import (
    boot_argv,
    parse_addresses,
    parse_routes,
    parse_rules,
    table_number,
)

# `ip -N -j rule show` with a rule of ours, one with other selectors, a goto, a prefix and
# NetworkManager's (protocol static).
RULES_V4 = ('[{"priority":0,"src":"all","table":"255"},{"priority":50,"src":"198.18.62.0","srclen":24,"iif":"eth1",'
            '"table":"254"},{"priority":60,"not":null,"src":"all","fwmark":"0x1","goto":32766},'
            '{"priority":1000,"src":"198.18.62.2","table":"1000"},'
            '{"priority":1001,"src":"198.18.69.10","table":"1001","protocol":"static"},'
            '{"priority":32766,"src":"all","table":"254"},{"priority":32767,"src":"all","table":"253"}]')
ROUTES_V4 = ('[{"dst":"default","gateway":"198.18.62.1","dev":"eth1","table":"1000","flags":[]},'
             '{"dst":"198.18.62.0/24","dev":"eth1","table":"1000","protocol":"2","scope":"253","prefsrc":"198.18.62.2",'
             '"flags":[]},{"dst":"198.18.62.0/24","dev":"eth1","protocol":"2","scope":"253","prefsrc":"198.18.62.2",'
             '"flags":[]},{"type":"2","dst":"127.0.0.0/8","dev":"lo","table":"255","protocol":"2","scope":"254",'
             '"prefsrc":"127.0.0.1","flags":[]},{"type":"7","dst":"10.0.0.0/8","table":"1005","flags":[]}]')
ROUTES_V6 = ('[{"dst":"2001:db8:62::/64","dev":"eth1","table":"1001","metric":1024,"flags":[],"pref":"medium"},'
             '{"dst":"default","gateway":"2001:db8:62::1","dev":"eth1","table":"1001","metric":1024,"flags":[],'
             '"pref":"medium"}]')
ADDRESSES = ('[{"ifindex":3,"ifname":"eth1","addr_info":[{"family":"inet","local":"198.18.62.2","prefixlen":24},'
             '{"family":"inet6","local":"2001:db8:62::2","prefixlen":64},'
             '{"family":"inet6","local":"fe80::c28:c4ff:fedc:aab","prefixlen":64}]}]')


def test_rules_are_read_with_what_they_select():
    rules = dict((rule["priority"], rule) for rule in parse_rules(RULES_V4, 4))
    assert (rules[1000]["src"], rules[1000]["table"], rules[1000]["extra"]) == ("198.18.62.2", 1000, "")
    assert rules[1000]["text"] == "1000: from 198.18.62.2 lookup 1000"
    assert rules[1001]["extra"] == ""  # NetworkManager's protocol is not a selector
    assert rules[50]["src"] == "198.18.62.0/24" and "iif eth1" in rules[50]["extra"]
    assert rules[60]["table"] is None and "goto 32766" in rules[60]["extra"]
    assert rules[0]["src"] is None and rules[0]["table"] == 255


def test_routes_are_read_per_table_without_the_local_table():
    routes = parse_routes(ROUTES_V4, 4)
    assert [(r["table"], r["dst"], r["gateway"], r["dev"]) for r in routes[:3]] == [
        (1000, "default", "198.18.62.1", "eth1"), (1000, "198.18.62.0/24", None, "eth1"),
        (254, "198.18.62.0/24", None, "eth1")]
    assert all(route["table"] != 255 for route in routes)
    unreachable = routes[3]
    assert unreachable["table"] == 1005 and unreachable["extra"].startswith("type 7")
    assert [route["text"] for route in parse_routes(ROUTES_V6, 6)] == [
        "2001:db8:62::/64 dev eth1", "default via 2001:db8:62::1 dev eth1"]


def test_tables_by_name_or_number():
    assert [table_number(v) for v in ("1000", "main", "local", None, "custom")] == [1000, 254, 255, 254, None]


def test_addresses_of_a_device():
    assert ["%s" % interface for interface in parse_addresses(ADDRESSES)] == [
        "198.18.62.2/24", "2001:db8:62::2/64", "fe80::c28:c4ff:fedc:aab/64"]


def test_boot_argv_sets_up_one_route_on_an_empty_namespace():
    route = {"address": "198.18.62.2", "gateway": "198.18.62.1", "dev": "eth1", "table": 1000, "priority": 1000,
             "prefix": "198.18.62.0/24", "family": "ipv4"}
    assert boot_argv(route) == [
        ["-4", "route", "replace", "198.18.62.0/24", "dev", "eth1", "table", "1000", "scope", "link",
         "src", "198.18.62.2"],
        ["-4", "route", "replace", "default", "via", "198.18.62.1", "dev", "eth1", "table", "1000"],
        ["-4", "rule", "add", "from", "198.18.62.2", "lookup", "1000", "priority", "1000"],
    ]
    six = dict(route, address="2001:db8:62::2", gateway="2001:db8:62::1", prefix="2001:db8:62::/64", family=None)
    assert boot_argv(six) == [
        ["-6", "route", "replace", "2001:db8:62::/64", "dev", "eth1", "table", "1000"],
        ["-6", "route", "replace", "default", "via", "2001:db8:62::1", "dev", "eth1", "table", "1000"],
        ["-6", "rule", "add", "from", "2001:db8:62::2", "lookup", "1000", "priority", "1000"],
    ]
