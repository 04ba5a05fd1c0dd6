"""Quoting for systemd unit files: what systemd's parser reads back must be exactly the
argument given, whatever it holds."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.mptcp.linux.plugins.filter.systemd import systemd_environment, systemd_exec, systemd_service_units
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.unit_text import quote_argument


@pytest.mark.parametrize("value, quoted", [
    ("eth0", '"eth0"'),
    ("198.18.2.10", '"198.18.2.10"'),
    ("a b", '"a b"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("100%", '"100%%"'),
    ("$HOME", '"$$HOME"'),
    ("a;b", '"a;b"'),
    ("line\nbreak", '"line\\nbreak"'),
    ("tab\there", '"tab\\there"'),
    ("bell\x07", '"bell\\x07"'),
    ("caf\u00e9", '"caf\u00e9"'),
    ("", '""'),
])
def test_quote_argument(value, quoted):
    assert quote_argument(value) == quoted


def test_exec_line_keeps_the_argument_list():
    line = systemd_exec(["/usr/sbin/ip", "mptcp", "endpoint", "add", "198.18.2.10", "dev", "eth1",
                         "signal"])
    assert line == '"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.2.10" "dev" "eth1" "signal"'


def test_numbers_become_words():
    assert systemd_exec(["/usr/sbin/ip", "mptcp", "limits", "set", "subflows", 2]).endswith('"2"')


@pytest.mark.parametrize("argv", [[], "ip mptcp", ["ip", "mptcp"], None])
def test_exec_refuses_what_is_not_an_absolute_command(argv):
    with pytest.raises(AnsibleFilterError):
        systemd_exec(argv)


def test_environment_keeps_dollars_and_escapes_specifiers():
    assert systemd_environment("LD_PRELOAD=/usr/lib/x/libmptcpwrap.so.0.0.1") == \
        '"LD_PRELOAD=/usr/lib/x/libmptcpwrap.so.0.0.1"'
    assert systemd_environment("A=$x %n") == '"A=$x %%n"'


@pytest.mark.parametrize("assignment", ["novalue", "=x", "BAD NAME=x", "A-B=x"])
def test_environment_refuses_bad_names(assignment):
    with pytest.raises(AnsibleFilterError):
        systemd_environment(assignment)


def test_service_units_name_a_bare_service_as_a_unit_and_keep_a_suffix():
    assert systemd_service_units(["nginx", "haproxy.service", "ssh.socket"]) == [
        "nginx.service", "haproxy.service", "ssh.socket"]


def test_the_role_names_its_services_with_the_filter_the_preflight_checks_with():
    """One rule for `.service`: the role's vars use the filter, not a regex of their own."""
    import os
    import yaml
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
    with open(os.path.join(repo, "roles", "mptcp", "vars", "main.yml")) as handle:
        variables = yaml.safe_load(handle)
    assert variables["__mptcp_services"].strip() == (
        "{{ mptcp_mptcpize_services | mptcp.linux.systemd_service_units(sockets=false) }}")


def test_the_socket_units_can_be_left_out():
    assert systemd_service_units(["nginx", "ssh.socket", "a.service"], sockets=False) == ["nginx.service", "a.service"]
