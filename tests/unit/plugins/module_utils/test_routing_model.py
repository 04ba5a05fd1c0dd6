"""The static validation of mptcp_source_routing's routes (routing/model.py), which the
role's preflight runs on the controller: every bad value is refused with its index and
value named; good ones come back normalized."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.routing.model import (
    validate_priority_range,
    validate_routes,
    validate_table_range,
)

GOOD = {"address": "198.18.62.2", "gateway": "198.18.62.1", "dev": "eth1"}


def test_good_routes_come_back_normalized():
    routes = validate_routes([GOOD, {"address": "2001:DB8:62:0::2", "gateway": "2001:db8:62::1", "dev": "eth1",
                                     "table": "1100", "priority": 1100}])
    assert routes == [
        dict(GOOD, table=None, priority=None, family=4),
        {"address": "2001:db8:62::2", "gateway": "2001:db8:62::1", "dev": "eth1", "table": 1100, "priority": 1100,
         "family": 6},
    ]


def test_options_left_out_by_ansible_as_none_are_accepted():
    assert validate_routes([dict(GOOD, table=None, priority=None)])[0]["table"] is None


@pytest.mark.parametrize("routes, fragments", [
    ("198.18.62.2", ["routes=", "must be a list"]),
    (["198.18.62.2"], ["routes[0]=", "must be a dict"]),
    ([dict(GOOD, address="198.18.62.2/24")], ["routes[0].address='198.18.62.2/24'", "without a prefix length"]),
    ([dict(GOOD, address="eth1")], ["routes[0].address='eth1'", "not an IPv4 or IPv6 address"]),
    ([dict(GOOD, address="0.0.0.0")], ["routes[0].address=0.0.0.0", "not a unicast address"]),
    ([dict(GOOD, address="224.0.0.1")], ["routes[0].address=224.0.0.1", "not a unicast address"]),
    ([GOOD, dict(GOOD, address="198.18.63.2", gateway="2001:db8::1")],
     ["routes[1].gateway=2001:db8::1 is an IPv6 address", "routes[1].address=198.18.63.2 is IPv4"]),
    ([dict(GOOD, gateway="198.18.62.2")], ["routes[0].gateway=198.18.62.2 is the address itself"]),
    ([dict(GOOD, gateway=None)], ["routes[0].gateway is required"]),
    ([dict(GOOD, dev="")], ["routes[0].dev is required"]),
    ([dict(GOOD, dev="a" * 16)], ["routes[0].dev='" + "a" * 16, "not an interface name"]),
    ([dict(GOOD, dev="eth1; reboot")], ["routes[0].dev='eth1; reboot'", "not an interface name"]),
    ([dict(GOOD, table=0)], ["routes[0].table=0", "unspec"]),
    ([dict(GOOD, table=254)], ["routes[0].table=254", "main"]),
    ([dict(GOOD, table=255)], ["routes[0].table=255", "local"]),
    ([dict(GOOD, table=253)], ["routes[0].table=253", "default"]),
    ([dict(GOOD, table=2 ** 32)], ["routes[0].table=4294967296", "out of range"]),
    ([dict(GOOD, table=-5)], ["routes[0].table=-5", "out of range"]),
    ([dict(GOOD, table=True)], ["routes[0].table=True", "not a whole number"]),
    ([dict(GOOD, priority=0)], ["routes[0].priority=0", "out of range"]),
    ([dict(GOOD, priority=32766)], ["routes[0].priority=32766", "out of range"]),
    ([dict(GOOD, metric=5)], ["routes[0] has unknown key metric"]),
    ([GOOD, dict(GOOD, gateway="198.18.62.3")], ["routes[1].address=198.18.62.2 is given twice", "routes[0]"]),
    ([dict(GOOD, table=1100), dict(GOOD, address="198.18.63.2", table=1100)],
     ["routes[1].table=1100 is given twice"]),
    ([dict(GOOD, priority=1100), dict(GOOD, address="198.18.63.2", priority=1100)],
     ["routes[1].priority=1100 is given twice"]),
])
def test_a_bad_value_is_named_with_its_index(routes, fragments):
    with pytest.raises(ValidationError) as error:
        validate_routes(routes)
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize("validate, value, fragment", [
    (validate_table_range, [1000], "table_range=[1000] must be a list of two"),
    (validate_table_range, [2000, 1000], "table_range=[2000, 1000] must be within"),
    (validate_table_range, [200, 300], "takes in the kernel's table 253 (default)"),
    (validate_table_range, [0, 10], "table_range=[0, 10] must be within"),
    (validate_priority_range, [1, 32766], "priority_range=[1, 32766] must be within"),
])
def test_bad_ranges_are_refused(validate, value, fragment):
    with pytest.raises(ValidationError) as error:
        validate(value)
    assert fragment in str(error.value)


def test_good_ranges():
    assert validate_table_range([1000, 1999]) == (1000, 1999)
    assert validate_priority_range([5, 5]) == (5, 5)
