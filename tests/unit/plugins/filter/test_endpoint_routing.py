"""What the role makes of its endpoints for routing: source routes, the endpoints the
path-manager modules take, and the rp_filter it sets or warns of."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.filter.endpoint_routing import (
    path_manager_endpoints,
    rp_filter_settings,
    source_routes,
    strict_rp_filter,
)
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import ENDPOINT_OPTIONS

ENDPOINTS = [{"address": "198.18.1.2", "dev": "eth0", "flags": ["subflow"]},
             {"address": "198.18.2.2", "dev": "eth1", "gateway": "198.18.2.1", "flags": ["subflow"]},
             {"address": "2001:db8:2::2", "dev": "eth1", "gateway": "2001:db8:2::1", "table": 102, "priority": 1102,
              "id": 4, "flags": ["subflow"]},
             {"address": "198.18.3.2", "gateway": "198.18.3.1"}]


def test_each_endpoint_with_a_gateway_gives_its_route_in_order():
    assert source_routes(ENDPOINTS) == [
        {"address": "198.18.2.2", "gateway": "198.18.2.1", "dev": "eth1"},
        {"address": "2001:db8:2::2", "gateway": "2001:db8:2::1", "dev": "eth1", "table": 102, "priority": 1102},
        # No dev: the module's rules (and the role's preflight) refuse it.
        {"address": "198.18.3.2", "gateway": "198.18.3.1", "dev": None}]
    assert source_routes([{"address": "198.18.1.2", "gateway": ""}]) == []


def test_the_path_manager_gets_only_the_keys_its_argument_spec_takes():
    stripped = path_manager_endpoints(ENDPOINTS)
    assert all(set(endpoint) <= set(ENDPOINT_OPTIONS) for endpoint in stripped)
    assert stripped[2] == {"address": "2001:db8:2::2", "dev": "eth1", "id": 4, "flags": ["subflow"]}
    assert stripped[0] == ENDPOINTS[0]


def report(all_value, **devices):
    return dict((dev, {"all": all_value, "dev": value, "effective": max(all_value, value), "strict": max(all_value, value) == 1})
                for dev, value in devices.items())


@pytest.mark.parametrize("found, settings", [
    # RHEL's usual: all=1, the interfaces 0 or 1: strict, set loose.
    (report(1, eth0=0, eth1=1), {"net.ipv4.conf.eth0.rp_filter": 2, "net.ipv4.conf.eth1.rp_filter": 2}),
    # After the first run: all=1, DEV=2 is loose and stays in the file (second run: no change).
    (report(1, eth0=2, eth1=2), {"net.ipv4.conf.eth0.rp_filter": 2, "net.ipv4.conf.eth1.rp_filter": 2}),
    # Debian's: all=0, interfaces 2 from systemd's default: nothing depends on the role.
    (report(0, eth0=2, eth1=2), {}),
    (report(2, eth0=0, eth1=2), {}),
    # all=1, the interface loose by hand: kept loose, and persisted for the next boot.
    (report(1, eth0=2, eth1=0), {"net.ipv4.conf.eth0.rp_filter": 2, "net.ipv4.conf.eth1.rp_filter": 2}),
    # Off everywhere: left alone.
    (report(0, eth0=0, eth1=0), {}),
    # An interface not on the host: left to the path manager's error.
    (report(1, eth1=1), {"net.ipv4.conf.eth1.rp_filter": 2}),
])
def test_loose_is_set_where_strict_and_kept_where_loose(found, settings):
    assert rp_filter_settings(found, ENDPOINTS) == settings


def test_rp_filter_settings_are_stable_once_applied():
    """What the first run sets, read back, asks for the same: the second run is a no-op."""
    first = rp_filter_settings(report(1, eth0=0, eth1=1), ENDPOINTS)
    after = report(1, **dict((key.split(".")[3], value) for key, value in first.items()))
    assert rp_filter_settings(after, ENDPOINTS) == first


def test_strict_interfaces_are_named_for_the_warning():
    assert strict_rp_filter(report(1, eth0=2, eth1=0), ENDPOINTS) == ["eth1"]
    assert strict_rp_filter(report(0, eth0=1, eth1=2), ENDPOINTS) == ["eth0"]
    assert strict_rp_filter({}, ENDPOINTS) == [] and strict_rp_filter(None, []) == []


def test_a_dev_with_a_dot_gets_the_key_systemd_reads():
    found = report(1, **{"eth0.100": 0})
    assert rp_filter_settings(found, [{"address": "198.18.1.2", "dev": "eth0.100"}]) == {"net.ipv4.conf.eth0/100.rp_filter": 2}


def test_what_is_not_a_list_of_endpoints_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects the role's mptcp_endpoints"):
        source_routes({"address": "198.18.1.2"})
