"""The role's boot unit (mptcp-pm.service) runs the commands the iproute2 backend builds:
the unit's ExecStart lines as rendered from the role's template."""

import os

import jinja2

from ansible_collections.mptcp.linux.plugins.filter.boot_commands import boot_commands
from ansible_collections.mptcp.linux.plugins.filter.systemd import systemd_exec
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import make_endpoint
from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import boot_argv

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
TEMPLATE = os.path.join(REPO, "roles", "mptcp", "templates", "mptcp-pm.service.j2")
ENDPOINTS = [{"address": "198.18.1.1", "flags": ["signal"]},
             {"address": "198.18.2.1", "id": 3, "port": 5555, "flags": ["signal"]},
             {"address": "2001:db8::1", "dev": "eth1", "id": "4", "flags": ["subflow", "backup"]}]


def render(**variables):
    """The template as Ansible's template lookup renders it (trim_blocks)."""
    values = dict(__mptcp_services=[], __mptcp_ip="/usr/sbin/ip", mptcp_endpoints_exclusive=False, __mptcp_boot_routes=[],
                  mptcp_limits={}, mptcp_endpoints=[])
    values.update(variables)
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["mptcp.linux.boot_commands"] = boot_commands
    env.filters["mptcp.linux.systemd_exec"] = systemd_exec
    with open(TEMPLATE) as handle:
        return env.from_string(handle.read()).render(**values)


def service_lines(text):
    section = text.split("[Service]\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


def test_the_unit_flushes_sets_the_limits_given_and_adds_each_endpoint():
    lines = service_lines(render(mptcp_endpoints_exclusive=True, mptcp_limits={"subflows": 2, "add_addr_accepted": 1},
                                 mptcp_endpoints=ENDPOINTS))
    assert lines == [
        "Type=oneshot",
        "RemainAfterExit=yes",
        'ExecStart="/usr/sbin/ip" "mptcp" "endpoint" "flush"',
        'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "2" "add_addr_accepted" "1"',
        '# "-": a rule, route or endpoint that is there already (NetworkManager\'s, or a restart of',
        '# this unit) is kept, and the commands after it still run.',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.1.1" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.2.1" "id" "3" "port" "5555" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "2001:db8::1" "dev" "eth1" "id" "4" "subflow" "backup"',
    ]


def test_a_limit_left_out_is_not_set_and_no_endpoint_means_no_comment():
    assert service_lines(render(mptcp_limits={"subflows": "3"})) == [
        "Type=oneshot", "RemainAfterExit=yes", 'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "3"']
    assert service_lines(render()) == ["Type=oneshot", "RemainAfterExit=yes"]


def test_the_endpoint_lines_are_the_backend_s_own_argument_lists():
    lines = [line for line in service_lines(render(mptcp_endpoints=ENDPOINTS)) if line.startswith("ExecStart=-")]
    built = [Iproute2Backend.add_args(make_endpoint(e["address"], e.get("id") and int(e["id"]), e.get("port"),
                                                    e.get("dev"), e["flags"])) for e in ENDPOINTS]
    assert lines == ["ExecStart=-" + systemd_exec(["/usr/sbin/ip"] + argv) for argv in built]


# Routes as mptcp_source_routing returns them (tables and priorities resolved).
ROUTES = [{"address": "198.18.2.2", "gateway": "198.18.2.1", "dev": "eth1", "table": 1000, "priority": 1000,
           "family": "ipv4", "via": "kernel", "profile": None, "prefix": "198.18.2.0/24"},
          {"address": "2001:db8:2::2", "gateway": "2001:db8:2::1", "dev": "eth1", "table": 1001, "priority": 1001,
           "family": "ipv6", "via": "kernel", "profile": None, "prefix": "2001:db8:2::/64"}]


def test_the_routes_come_first_as_the_routing_backend_builds_them_and_never_stop_the_unit():
    """A subflow from an endpoint must find its gateway from the start, and a rule there
    already (the unit started again) must not keep the endpoints out."""
    endpoints = [dict(ENDPOINTS[0]), {"address": "198.18.2.2", "dev": "eth1", "gateway": "198.18.2.1", "table": 1000,
                                      "flags": ["subflow"]}]
    lines = [line for line in service_lines(render(mptcp_endpoints=endpoints, mptcp_limits={"subflows": 2},
                                                   __mptcp_boot_routes=ROUTES)) if line.startswith("ExecStart")]
    routing = ["ExecStart=-" + systemd_exec(["/usr/sbin/ip"] + argv) for route in ROUTES for argv in boot_argv(route)]
    assert len(routing) >= 4
    assert lines[:len(routing)] == routing
    assert lines[len(routing):] == [
        'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "2"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.1.1" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.2.2" "dev" "eth1" "subflow"']
    commands = boot_commands("/usr/sbin/ip", routes=ROUTES)
    assert all(command["keep_going"] for command in commands) and len(commands) == len(routing)


def test_no_route_means_no_routing_command():
    assert boot_commands("/usr/sbin/ip", {"subflows": 1}, routes=[]) == boot_commands("/usr/sbin/ip", {"subflows": 1})
