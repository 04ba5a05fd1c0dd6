"""nm_flags: names and bits, the forms of the property, the rules of a flag set."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import (
    FLAG_NAMES,
    bits_of,
    builtin_default,
    check_laminar,
    check_version,
    effective,
    endpoint_flags,
    flags_of,
    nm_value,
    ordered,
    parse_flags,
    parse_version,
    validate_flags,
)


@pytest.mark.parametrize("names, bits", [
    ([], 0x0),
    (["disabled"], 0x1),
    (["enabled"], 0x2),
    (["also-without-sysctl"], 0x4),
    (["also-without-default-route"], 0x8),
    (["signal"], 0x10),
    (["subflow"], 0x20),
    (["backup"], 0x40),
    (["fullmesh"], 0x80),
    (["laminar"], 0x100),
    (["signal", "subflow", "also-without-default-route"], 0x38),
    (list(FLAG_NAMES), 0x1ff),
])
def test_names_and_bits_round_trip(names, bits):
    assert bits_of(names) == bits
    assert flags_of(bits) == frozenset(names)


def test_unknown_bit_is_an_error_not_dropped():
    with pytest.raises(MptcpError, match="0x200"):
        flags_of(0x230)


@pytest.mark.parametrize("flags, value", [
    (frozenset(), "0x0"),
    (frozenset(["subflow", "signal"]), "0x30"),
    (frozenset(["fullmesh", "subflow", "also-without-sysctl"]), "0xa4"),
])
def test_nm_value_is_a_number(flags, value):
    assert nm_value(flags) == value


def test_ordered_is_bit_order_whatever_the_input_order():
    assert ordered(frozenset(["fullmesh", "disabled", "subflow", "enabled"])) == [
        "disabled", "enabled", "subflow", "fullmesh"]


@pytest.mark.parametrize("text, flags", [
    ("0x38", {"also-without-default-route", "signal", "subflow"}),
    ("0x38\n", {"also-without-default-route", "signal", "subflow"}),
    ("0X30", {"signal", "subflow"}),
    ("48", {"signal", "subflow"}),
    ("0", set()),
    ("0x0", set()),
    ("", set()),
    ("default", set()),
    ("none", set()),
    ("0x0 (default)", set()),
    ("0x30 (signal, subflow)", {"signal", "subflow"}),
    ("signal,subflow", {"signal", "subflow"}),
    ("signal, subflow backup", {"signal", "subflow", "backup"}),
    ("enabled | subflow", {"enabled", "subflow"}),
])
def test_parse_flags_every_form(text, flags):
    assert parse_flags(text) == frozenset(flags)


@pytest.mark.parametrize("text, message", [
    ("0x30 (signal)", "do not match the number"),
    ("signal,bogus", "unknown bogus"),
    ("0x200", "0x200"),
])
def test_parse_flags_refuses_what_it_cannot_read(text, message):
    with pytest.raises(MptcpError, match=message):
        parse_flags(text)


@pytest.mark.parametrize("flags", [
    [],
    ["disabled"],
    ["enabled"],
    ["signal", "subflow", "also-without-default-route"],
    ["subflow", "fullmesh", "backup"],
    ["signal", "signal"],
])
def test_validate_flags_accepts(flags):
    assert validate_flags(flags, "profile 'x'") == frozenset(flags)


@pytest.mark.parametrize("flags, message", [
    (["sigal"], r"profile 'x': unknown flag 'sigal'; the flags are disabled, enabled, "),
    (["subflow", "implicit"], "unknown flag 'implicit'"),
    (["disabled", "signal"], "'disabled' cannot be combined with other flags \\(got disabled, signal\\)"),
    (["enabled", "disabled"], "'disabled' cannot be combined"),
    (["fullmesh", "signal", "subflow"], "'signal' and 'fullmesh' cannot be set together"),
    ("signal", "flags must be a list"),
    (None, "flags must be a list"),
])
def test_validate_flags_refuses_naming_the_value(flags, message):
    with pytest.raises(ValidationError, match=message):
        validate_flags(flags, "profile 'x'")


@pytest.mark.parametrize("flags, default, result", [
    ([], None, {"enabled", "subflow"}),
    ([], frozenset(["signal"]), {"enabled", "signal"}),
    ([], frozenset(["disabled"]), {"disabled"}),
    (["signal"], frozenset(["disabled"]), {"enabled", "signal"}),
    (["disabled"], None, {"disabled"}),
    (["also-without-sysctl"], None, {"enabled", "also-without-sysctl"}),
])
def test_effective_flags(flags, default, result):
    assert effective(frozenset(flags), default) == frozenset(result)


@pytest.mark.parametrize("flags, endpoint", [
    ({"enabled", "subflow"}, ["subflow"]),
    ({"enabled", "fullmesh", "subflow", "backup", "also-without-sysctl"}, ["subflow", "backup", "fullmesh"]),
    ({"enabled"}, []),
    ({"disabled"}, None),
])
def test_endpoint_flags(flags, endpoint):
    assert endpoint_flags(frozenset(flags)) == endpoint


@pytest.mark.parametrize("text, version", [
    ("1.42.4", (1, 42, 4)),
    ("nmcli tool, version 1.52.1", (1, 52, 1)),
    ("1.40.0-1.el8", (1, 40, 0)),
    ("1.46", (1, 46, 0)),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_parse_version_refuses_garbage():
    with pytest.raises(MptcpError, match="cannot read a NetworkManager version"):
        parse_version("unknown")


@pytest.mark.parametrize("version", [(1, 40, 0), (1, 42, 4), (1, 52, 1), (2, 0, 0)])
def test_check_version_accepts_1_40_and_later(version):
    check_version(version, "NetworkManager")


@pytest.mark.parametrize("version", [(1, 39, 90), (1, 36, 0), (0, 9, 10)])
def test_check_version_refuses_older(version):
    with pytest.raises(MptcpError, match="NetworkManager is %s; connection.mptcp-flags needs "
                       "NetworkManager 1.40 or later" % ".".join(str(p) for p in version)):
        check_version(version, "NetworkManager")


@pytest.mark.parametrize("version, default", [
    (None, ["enabled", "subflow"]),
    ((1, 42, 4), ["enabled", "subflow"]),
    ((1, 52, 1), ["enabled", "subflow"]),
    ((1, 56, 0), ["enabled", "subflow", "laminar"]),
    ((1, 58, 1), ["enabled", "subflow", "laminar"]),
])
def test_a_profile_at_zero_gets_laminar_from_nm_1_56_on(version, default):
    assert builtin_default(version) == frozenset(default)
    assert effective(frozenset(), None, version) == frozenset(default)
    assert endpoint_flags(effective(frozenset(), None, version)) == [f for f in ("subflow", "laminar") if f in default]
    # A NetworkManager.conf default wins whatever the version.
    assert effective(frozenset(), frozenset(["signal"]), version) == frozenset(["enabled", "signal"])


def test_laminar_is_refused_clearly_before_nm_1_56_and_taken_from_it_on():
    with pytest.raises(ValidationError) as error:
        check_laminar(frozenset(["subflow", "laminar"]), (1, 52, 1), "profile 'lab-eth1'")
    assert str(error.value) == (
        "profile 'lab-eth1': flag 'laminar' needs NetworkManager 1.56 or later; this host's is 1.52.1 "
        "(set laminar endpoints with mptcp.linux.mptcp_endpoint instead)")
    check_laminar(frozenset(["subflow", "laminar"]), (1, 56, 0), "profile 'lab-eth1'")
    check_laminar(frozenset(["subflow"]), (1, 42, 4), "profile 'lab-eth1'")
