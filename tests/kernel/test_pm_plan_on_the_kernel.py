"""A bounded number of the planner's property examples (tests/unit/plugins/module_utils/
test_pm_plan_properties.py) against Linux itself, through both backends, in one fresh
namespace per backend: each example sets the kernel's endpoints with `ip` (the oracle),
runs the module's code in check mode and for real, and reads the result back with
`ip -j mptcp endpoint show`. The kernel makes no implicit endpoint without a connection
and this iproute2 may not know laminar, so the examples have neither."""

import ipaddress
import shutil

import pytest
from hypothesis import HealthCheck, event, given, settings

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.ensure import ensure_endpoints
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import FLAG_NAMES, sort_flags, validate_endpoints
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.pm_kernel_model import (
    FLAG_SETS,
    expected_state,
    held,
    reaches,
    scenarios,
)

IP = shutil.which("ip")
NO_LAMINAR = FLAG_SETS.map(lambda flags: [name for name in flags if name != "laminar"])
EXAMPLES = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


@pytest.fixture
def ns(netns):
    netns.add_interface("e1", "198.18.1.1/24")
    netns.add_interface("e2", "198.18.2.1/24")
    # nodad: a tentative IPv6 address cannot take a listening socket yet (EADDRNOTAVAIL).
    netns.ip("address", "add", "2001:db8:1::1/64", "dev", "e1", "nodad")
    return netns


def in_lab_range(endpoints):
    """The model's endpoints or requests (its addresses are the unit tests': 10.N.0.H) with
    each IPv4 address as this suite's 198.18.N.H, which the namespace's links carry where
    the model's local addresses are; IPv6 ones (2001:db8::/32) as they are."""
    def lab(address):
        parsed = ipaddress.ip_address(address)
        if parsed.version == 6:
            return address
        first, network, zero, host = bytearray(parsed.packed)
        assert (first, zero) == (10, 0), address
        return "198.18.%d.%d" % (network, host)
    return [dict(e, address=lab(e["address"])) if e.get("address") else dict(e) for e in endpoints]


def kernel(ns):
    """The endpoints as `ip -j` shows them, in the planner's form."""
    found = []
    for entry in ns.endpoints():
        found.append({"id": entry["id"], "address": entry["address"], "port": entry.get("port") or None,
                      "dev": entry.get("dev"), "flags": sort_flags(n for n in FLAG_NAMES if entry.get(n) is True)})
    return found


def set_kernel(ns, endpoints):
    ns.ip("mptcp", "endpoint", "flush")
    for endpoint in endpoints:
        args = ["mptcp", "endpoint", "add", endpoint["address"], "id", str(endpoint["id"])]
        args += ["port", str(endpoint["port"])] if endpoint["port"] else []
        args += ["dev", endpoint["dev"]] if endpoint["dev"] else []
        ns.ip(*(args + endpoint["flags"]))
    assert held(kernel(ns)) == held(endpoints)


def run(ns, backend, wanted, state, exclusive, check_mode):
    opened = open_backend(backend, ns.name, ns.ip_runner, IP)
    try:
        return ensure_endpoints(opened, wanted, state, exclusive, check_mode, ns.name)
    finally:
        opened.close()


@pytest.mark.parametrize("backend", ["pyroute2", "iproute2"])
@EXAMPLES
@given(scenario=scenarios(implicit=False, flags=NO_LAMINAR))
def test_random_requests_on_the_real_kernel(ns, backend, scenario):
    """The namespace is the test's; each example first sets the endpoints it starts from."""
    current, (state, exclusive, specs) = scenario
    current, specs = in_lab_range(current), in_lab_range(specs)
    set_kernel(ns, current)
    try:
        wanted = validate_endpoints(specs, state)
        predicted = run(ns, backend, wanted, state, exclusive, check_mode=True)
    except ValidationError:
        event("refused before anything")
        assert held(kernel(ns)) == held(current)
        return
    assert held(kernel(ns)) == held(current), "check mode changed the kernel"
    try:
        done = run(ns, backend, wanted, state, exclusive, check_mode=False)
    except MptcpError as exc:
        event("the kernel refused a step")
        message = str(exc)
        assert "EADDRNOTAVAIL" in message and ("were undone" in message or "Nothing had been changed" in message), message
        assert held(kernel(ns)) == held(current)
        return
    event("applied, %d step(s)" % min(len(done["changes"]), 3))
    assert reaches(kernel(ns), expected_state(current, wanted, state, exclusive)), (kernel(ns), done)
    for key in ("changed", "changes", "warnings"):
        assert predicted[key] == done[key], key
    again = run(ns, backend, wanted, state, exclusive, check_mode=False)
    assert again["changed"] is False and again["changes"] == []
