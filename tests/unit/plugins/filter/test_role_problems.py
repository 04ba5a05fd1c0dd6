"""The role's variables checked on the controller with the modules' own rules."""

import pytest

from ansible_collections.mptcp.linux.plugins.filter.role_problems import role_problems

PROFILES = [{"name": "lab-eth0", "uuid": "1d8e4a70-0000-4000-8000-000000000000"},
            {"name": "lab-eth1", "uuid": "2d8e4a70-0000-4000-8000-000000000000"}]
GOOD = {"mptcp_limits": {"subflows": 2}, "mptcp_endpoints": [{"address": "198.18.2.10", "dev": "eth1", "flags": ["signal"]}],
        "mptcp_nm_profiles": [{"name": "lab-eth0", "flags": ["subflow"]}], "mptcp_mptcpize_services": ["iperf3", "nginx.service"]}


def test_good_variables_have_no_problem():
    assert role_problems(GOOD, {"nm_profiles": PROFILES, "unavailable": {}}) == []
    assert role_problems({}) == []


@pytest.mark.parametrize("variables, problem", [
    ({"mptcp_limits": {"subflows": 9}}, "mptcp_limits.subflows=9 is out of range: the kernel accepts 0 to 8"),
    ({"mptcp_endpoints": [{"address": "10.0.0.1"}, {"address": "10.0.0.2/24"}]},
     "mptcp_endpoints[1].address='10.0.0.2/24' is not an IPv4 or IPv6 address"),
    ({"mptcp_endpoints": [{"address": "10.0.0.1", "flags": ["signal", "fullmesh"]}]},
     "mptcp_endpoints[0].flags=['signal', 'fullmesh']: signal and fullmesh cannot be combined"),
    ({"mptcp_endpoints": [{"address": "10.0.0.1", "id": 3}, {"address": "10.0.0.2", "id": 3}]},
     "mptcp_endpoints[1].id 3 is listed twice (also endpoints[0])"),
    ({"mptcp_endpoints": [{"address": "10.0.0.%d" % i} for i in range(1, 10)]},
     "mptcp_endpoints lists 9 endpoints; the kernel allows at most 8 per namespace"),
    ({"mptcp_nm_profiles": [{"name": "lab-eth1", "flags": ["disabled", "subflow"]}]},
     "mptcp_nm_profiles[0] ('lab-eth1'): 'disabled' cannot be combined with other flags"),
    ({"mptcp_nm_profiles": [{"name": "", "flags": []}]}, "mptcp_nm_profiles[0] (''): a profile name or UUID is required"),
    ({"mptcp_nm_profiles": [{"name": "a", "flags": []}, {"name": "a", "flags": []}]},
     "mptcp_nm_profiles[1] ('a'): the profile is listed twice"),
    ({"mptcp_mptcpize_services": ["iperf3\nExecStartPre=/bin/false"]},
     "mptcp_mptcpize_services[0]='iperf3\\nExecStartPre=/bin/false.service': not a unit name"),
    ({"mptcp_mptcpize_services": ["../../etc/cron.d/x"]}, "mptcp_mptcpize_services[0]='../../etc/cron.d/x': not a unit name"),
])
def test_each_problem_names_the_variable_and_the_value(variables, problem):
    problems = role_problems(variables)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_every_problem_is_reported_at_once():
    assert len(role_problems({"mptcp_limits": {"add_addr_accepted": -1}, "mptcp_mptcpize_services": ["a b", "c;d"]})) == 3


def test_profiles_are_looked_up_in_the_hosts_facts():
    facts = {"nm_profiles": PROFILES, "unavailable": {}}
    missing = role_problems({"mptcp_nm_profiles": [{"name": "lab-eth9", "flags": []}]}, facts, "host1")
    assert missing == ['mptcp_nm_profiles[0] on host1: profile "lab-eth9" not found; the profiles are: "lab-eth0", "lab-eth1"']
    by_uuid = role_problems({"mptcp_nm_profiles": [{"name": PROFILES[1]["uuid"], "flags": []}]}, facts)
    assert by_uuid == []
    stopped = role_problems(GOOD, {"nm_profiles": [], "unavailable": {"nm_profiles": "NetworkManager is not running"}}, "host1")
    assert stopped == ["mptcp_nm_profiles lists lab-eth0, but host1 cannot tell its profiles: NetworkManager is not running"]
    assert role_problems(GOOD, {"tools": {}}) == []


def test_templated_numbers_are_taken_as_the_modules_take_them():
    """Variables templated from Jinja are strings ("{{ 0 if server else 1 }}" is '1'); the
    modules' `type: int` converts them, so the role's own check must too."""
    variables = {"mptcp_limits": {"subflows": "2", "add_addr_accepted": "1"},
                 "mptcp_endpoints": [{"address": "198.18.2.10", "id": "3", "flags": ["signal"], "port": "5201"}]}
    assert role_problems(variables) == []
    assert "subflows" in " ".join(role_problems({"mptcp_limits": {"subflows": "two"}}))
    assert "9" in " ".join(role_problems({"mptcp_limits": {"subflows": "9"}}))


# --- source routing: an endpoint's gateway, with the routing module's rules (issue 18) -------


@pytest.mark.parametrize("endpoint, fragments", [
    ({"address": "198.18.2.2", "gateway": "198.18.2.1"}, ["mptcp_endpoints[1] (198.18.2.2): ", "dev"]),
    ({"address": "198.18.2.2", "dev": "eth1", "gateway": "2001:db8::1"}, ["mptcp_endpoints[1] (198.18.2.2): ", "2001:db8::1"]),
    ({"address": "2001:db8:2::2", "dev": "eth1", "gateway": "198.18.2.1"}, ["mptcp_endpoints[1] (2001:db8:2::2): ", "198.18.2.1"]),
    ({"address": "198.18.2.2", "dev": "eth1", "gateway": "198.18.2.300"}, ["mptcp_endpoints[1] (198.18.2.2): ", "198.18.2.300"]),
    ({"address": "198.18.2.2", "dev": "eth1", "table": 102}, ["mptcp_endpoints[1] (198.18.2.2): table set without gateway"]),
    ({"address": "198.18.2.2", "dev": "eth1", "priority": 1102, "table": 102},
     ["mptcp_endpoints[1] (198.18.2.2): table and priority set without gateway"]),
])
def test_a_gateway_the_routing_module_would_refuse_stops_the_role(endpoint, fragments):
    variables = {"mptcp_endpoints": [{"address": "198.18.1.2", "dev": "eth0"}, endpoint]}
    problems = role_problems(variables)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems


def test_good_gateways_have_no_problem_and_templated_tables_are_numbers():
    variables = {"mptcp_endpoints": [
        {"address": "198.18.2.2", "dev": "eth1", "gateway": "198.18.2.1", "flags": ["subflow"]},
        {"address": "2001:db8:2::2", "dev": "eth1", "gateway": "fe80::1", "table": "1102", "priority": "1102"}]}
    assert role_problems(variables) == []


@pytest.mark.parametrize("variables, problem", [
    ({"mptcp_routing_table_range": [250, 260]}, "mptcp_routing_table_range: table_range=[250, 260] takes in the kernel's table 253"),
    ({"mptcp_routing_priority_range": [2000, 1000]}, "mptcp_routing_priority_range: priority_range=[2000, 1000] must be within"),
    ({"mptcp_routing_table_range": [1000]}, "mptcp_routing_table_range: table_range=[1000] must be a list of two numbers"),
])
def test_the_routing_ranges_are_checked_with_the_modules_rules(variables, problem):
    problems = role_problems(variables)
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    assert role_problems({"mptcp_routing_table_range": ["1000", "1999"], "mptcp_routing_priority_range": [1000, 1999]}) == []
