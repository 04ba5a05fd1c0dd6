"""Flag names and bits, normalisation, and the static validation of every input."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    bits_from_flags,
    describe_endpoint,
    endpoint_key,
    flags_from_bits,
    make_endpoint,
    sort_endpoints,
    validate_endpoints,
    validate_limits,
)


@pytest.mark.parametrize("bits, names", [
    (0, []),
    (0x1, ["signal"]),
    (0x3, ["signal", "subflow"]),
    (0xE, ["subflow", "backup", "fullmesh"]),
    (0x12, ["subflow", "implicit"]),
    (0x20, ["laminar"]),
    (0x42, ["subflow", "0x40"]),
    (0x100, ["0x100"]),
])
def test_flags_from_bits_and_back(bits, names):
    assert flags_from_bits(bits) == names
    assert bits_from_flags(names) == bits


def test_make_endpoint_normalises():
    endpoint = make_endpoint("2001:DB8:0:0::1", endpoint_id=3, port=0, dev="", flags=["backup", "subflow", "backup"])
    assert endpoint == {"id": 3, "address": "2001:db8::1", "port": None, "dev": None, "flags": ["subflow", "backup"]}
    assert endpoint_key(endpoint) == ("2001:db8::1", 0)


def test_describe_endpoint_speaks_like_ip_mptcp_endpoint_show():
    assert describe_endpoint(make_endpoint("10.0.0.1", 3, 8080, "eth1", ["signal"])) == \
        "10.0.0.1 port 8080 id 3 signal dev eth1"
    assert describe_endpoint(make_endpoint("10.0.0.1", None, None, None, [])) == "10.0.0.1"


def test_sort_endpoints_by_id_then_unnumbered_by_address():
    endpoints = [make_endpoint("10.0.0.9"), make_endpoint("10.0.0.1", 7), make_endpoint("10.0.0.2", 2),
                 make_endpoint("::1"), make_endpoint("10.0.0.3")]
    assert [(e["address"], e["id"]) for e in sort_endpoints(endpoints)] == [
        ("10.0.0.2", 2), ("10.0.0.1", 7), ("10.0.0.3", None), ("10.0.0.9", None), ("::1", None)]


@pytest.mark.parametrize("args, expected", [
    ({}, {}),
    ({"subflows": 0}, {"subflows": 0}),
    ({"subflows": 8, "add_addr_accepted": 8}, {"subflows": 8, "add_addr_accepted": 8}),
])
def test_validate_limits_accepts(args, expected):
    assert validate_limits(**args) == expected


@pytest.mark.parametrize("args, message", [
    ({"subflows": 9}, "subflows=9 is out of range: the kernel accepts 0 to 8"),
    ({"subflows": -1}, "subflows=-1 is out of range"),
    ({"add_addr_accepted": 255}, "add_addr_accepted=255 is out of range"),
    ({"subflows": True}, "subflows=True is out of range"),
    ({"subflows": "2"}, "subflows='2' is out of range"),
])
def test_validate_limits_refuses(args, message):
    with pytest.raises(ValidationError) as caught:
        validate_limits(**args)
    assert message in str(caught.value)


def test_validate_endpoints_normalises_and_keeps_left_out_fields_unknown():
    (wanted,) = validate_endpoints([{"address": "2001:DB8::0:1", "flags": ["backup", "subflow"]}], "present")
    assert wanted == {"address": "2001:db8::1", "id": None, "port": None, "dev": None,
                      "flags": ["subflow", "backup"], "label": "endpoints[0]."}
    (single,) = validate_endpoints([{"id": 4}], "absent", labelled=False)
    assert single["id"] == 4 and single["address"] is None and single["label"] == ""


BAD = [
    ({"address": "300.1.1.1"}, "present", "endpoints[0].address='300.1.1.1' is not an IPv4 or IPv6 address"),
    ({"address": "10.0.0.1/24"}, "present", "without a prefix length"),
    ({"address": "fe80::1%eth0"}, "present", "or zone"),
    ({"address": "10.0.0.1", "flags": ["Signal"]}, "present", "flag 'Signal' is unknown; the flags are signal, subflow"),
    ({"address": "10.0.0.1", "flags": ["implicit"]}, "present", "flag 'implicit' is set by the kernel only"),
    ({"address": "10.0.0.1", "flags": "signal"}, "present", "must be a list of flag names"),
    ({"address": "10.0.0.1", "flags": ["fullmesh", "signal"]}, "present", "signal and fullmesh cannot be combined"),
    ({"address": "10.0.0.1", "flags": ["subflow"], "port": 80}, "present", "port=80 needs the signal flag"),
    ({"address": "10.0.0.1", "flags": ["signal", "subflow"], "port": 80}, "present", "port=80 needs the signal flag and no subflow"),
    ({"address": "10.0.0.1", "port": 0, "flags": ["signal"]}, "present", "port=0 is out of range: a port is 1 to 65535"),
    ({"address": "10.0.0.1", "id": 0}, "present", "id=0 is out of range: endpoint ids are 1 to 255"),
    ({"address": "10.0.0.1", "id": 256}, "absent", "id=256 is out of range"),
    ({"address": "10.0.0.1", "dev": "a-very-long-interface-name"}, "present", "is not a valid interface name"),
    ({"address": "10.0.0.1", "dev": "eth 1"}, "present", "dev='eth 1' is not a valid interface name"),
    ({"id": 3}, "present", "endpoints[0].address is required with state=present"),
    ({"flags": ["signal"]}, "absent", "endpoints[0].address or id is required with state=absent"),
    ({"address": "10.0.0.1", "flags": ["nosuch"]}, "absent", "flag 'nosuch' is unknown"),
]


@pytest.mark.parametrize("spec, state, message", BAD, ids=[b[2] for b in BAD])
def test_validate_endpoints_refuses_each_bad_value_naming_it(spec, state, message):
    with pytest.raises(ValidationError) as caught:
        validate_endpoints([spec], state)
    assert message in str(caught.value)


def test_validate_endpoints_refuses_duplicates_only_when_adding():
    with pytest.raises(ValidationError) as caught:
        validate_endpoints([{"address": "10.0.0.1"}, {"address": "10.0.0.1", "flags": ["signal"]}], "present")
    assert "endpoints[1].address 10.0.0.1 is listed twice (also endpoints[0])" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        validate_endpoints([{"address": "10.0.0.1", "id": 2}, {"address": "10.0.0.2", "id": 2}], "present")
    assert "endpoints[1].id 2 is listed twice" in str(caught.value)
    # The same address with another port is another endpoint.
    other_port = {"address": "10.0.0.1", "port": 1, "flags": ["signal"]}
    assert len(validate_endpoints([{"address": "10.0.0.1"}, other_port], "present")) == 2
    assert len(validate_endpoints([{"address": "10.0.0.1"}, {"address": "10.0.0.1"}], "absent")) == 2


def test_validate_endpoints_refuses_a_non_dict():
    with pytest.raises(ValidationError) as caught:
        validate_endpoints(["10.0.0.1"], "present")
    assert "endpoints[0].'10.0.0.1' must be a dict" in str(caught.value)
