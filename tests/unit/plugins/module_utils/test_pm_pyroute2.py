"""The pyroute2 backend's messages (built by hand, because of pyroute2's traps), and hosts
where pyroute2 is missing or too old: `auto` falls back to iproute2, `pyroute2` fails
clearly."""

import importlib
import os
import struct
import subprocess
import sys
import types

import pytest
from pyroute2.netlink.generic.mptcp import mptcp_msg

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager import backend_pyroute2 as pm_pyroute2
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import make_endpoint


def wire(msg):
    """Encode a message as it goes to the kernel and decode it again."""
    msg["header"]["type"] = 0x1C
    msg.encode()
    decoded = mptcp_msg(msg.data)
    decoded.decode()
    return msg.data, decoded


def test_set_flags_is_sent_by_id_in_a_nested_address():
    data, decoded = wire(pm_pyroute2.set_flags_message(7, ["subflow", "backup"]))
    assert decoded["cmd"] == 7 and decoded["version"] == 1
    addr = decoded.get_attr("MPTCP_PM_ATTR_ADDR")
    assert addr.get_attr("MPTCP_PM_ADDR_ATTR_ID") == 7
    assert addr.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") == 0x6
    # The attribute header after the genl header: length 0x14, type ADDR (1) | NLA_F_NESTED.
    assert struct.unpack("=HH", data[20:24]) == (0x14, 0x8001)


@pytest.mark.parametrize("endpoint, ifindex, attrs", [
    (make_endpoint("10.0.0.1", 4, 8080, "e1", ["signal", "backup"]), 3, [
        ("MPTCP_PM_ADDR_ATTR_FAMILY", 2), ("MPTCP_PM_ADDR_ATTR_ADDR4", "10.0.0.1"),
        ("MPTCP_PM_ADDR_ATTR_ID", 4), ("MPTCP_PM_ADDR_ATTR_FLAGS", 0x5),
        ("MPTCP_PM_ADDR_ATTR_PORT", 8080), ("MPTCP_PM_ADDR_ATTR_IF_IDX", b"\x03\x00\x00\x00")]),
    (make_endpoint("2001:db8::1", None, None, None, ["subflow", "laminar"]), 0, [
        ("MPTCP_PM_ADDR_ATTR_FAMILY", 10), ("MPTCP_PM_ADDR_ATTR_ADDR6", "2001:db8::1"),
        ("MPTCP_PM_ADDR_ATTR_FLAGS", 0x22)]),
])
def test_address_attrs(endpoint, ifindex, attrs):
    assert pm_pyroute2.address_attrs(endpoint, ifindex) == attrs


def test_an_added_endpoint_reads_back_the_same_through_the_wire():
    endpoint = make_endpoint("10.0.0.1", 4, 80, "e1", ["signal"])
    _data, decoded = wire(pm_pyroute2.build_message(1, pm_pyroute2.address_attrs(endpoint, 3)))
    # pyroute2 dumps IF_IDX back as a hex string.
    assert decoded.get_attr("MPTCP_PM_ATTR_ADDR").get_attr("MPTCP_PM_ADDR_ATTR_IF_IDX") == "03:00:00:00"
    assert pm_pyroute2.endpoint_from_message(decoded, {3: "e1"}) == endpoint
    # An interface that is gone is named the way iproute2 names it.
    assert pm_pyroute2.endpoint_from_message(decoded, {})["dev"] == "if3"


@pytest.mark.parametrize("value, index", [
    ("03:00:00:00", 3), ("63:00:00:00", 99), (b"\x02\x00\x00\x00", 2), (None, 0), (5, 5)])
def test_unpack_if_idx(value, index):
    assert pm_pyroute2.unpack_if_idx(value) == index
    assert pm_pyroute2.pack_if_idx(index) == struct.pack("=i", index)


@pytest.fixture
def without(monkeypatch):
    """without(module_name): reload pm_pyroute2 as if that module could not be imported;
    the real one comes back after the test."""
    def hide(name):
        monkeypatch.setitem(sys.modules, name, None)
        importlib.reload(pm_pyroute2)
    yield hide
    monkeypatch.undo()
    importlib.reload(pm_pyroute2)
    assert pm_pyroute2.unusable_reason() is None


@pytest.mark.parametrize("hidden", ["pyroute2", "pyroute2.netlink.generic.mptcp"],
                         ids=["missing", "too old (no MPTCP module)"])
def test_without_a_usable_pyroute2_auto_uses_iproute2_and_pyroute2_fails_clearly(without, hidden):
    without(hidden)
    assert "pyroute2 with MPTCP support (0.5.19 or later) cannot be imported" in pm_pyroute2.unusable_reason()
    # An ip without `ip mptcp` (its help does not know the object): iproute2 still, which
    # then says what it lacks.
    chosen = open_backend("auto", None, run=lambda argv: (255, "", 'Object "mptcp" is unknown'),
                          ip_path="/usr/sbin/ip")
    assert isinstance(chosen, Iproute2Backend)
    with pytest.raises(MptcpError) as caught:
        open_backend("pyroute2", None, run=lambda argv: (0, "", ""), ip_path="/usr/sbin/ip")
    assert str(caught.value).startswith("backend=pyroute2: pyroute2 with MPTCP support (0.5.19 or later) "
                                        "cannot be imported")
    assert "Install python3-pyroute2 on the target or use backend=auto or iproute2" in str(caught.value)
    with pytest.raises(MptcpError) as caught:
        pm_pyroute2.Pyroute2Backend()
    assert "cannot be imported" in str(caught.value)


def test_without_pyroute2_nor_ip_the_error_names_both(without):
    without("pyroute2")
    with pytest.raises(MptcpError) as caught:
        open_backend("auto", None, run=None, ip_path=None)
    assert str(caught.value).startswith("the ip command (iproute2) was not found and pyroute2 is not usable")


def test_a_pyroute2_without_a_netlink_request_is_too_old(monkeypatch):
    class OldMPTCP:
        pass
    monkeypatch.setitem(pm_pyroute2._pyroute2(), "MPTCP", OldMPTCP)
    assert pm_pyroute2.unusable_reason().endswith("has no usable MPTCP socket")


def test_an_unknown_backend_is_refused():
    with pytest.raises(MptcpError) as caught:
        open_backend("netlink", None)
    assert "backend='netlink' is not one of auto, pyroute2, iproute2" in str(caught.value)


def test_pyroute2_is_not_imported_until_a_backend_needs_it():
    """Importing it costs 80-95 ms on a target: a module that `ip` serves never pays it."""
    run = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from ansible_collections.mptcp.linux.plugins.module_utils.path_manager import backend as pm_backend\n"
        "from ansible_collections.mptcp.linux.plugins.module_utils.info import tools as info_tools\n"
        "from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_pyroute2 import pyroute2_version\n"
        "assert pyroute2_version()\n"
        "print(sorted(name for name in sys.modules if name.startswith('pyroute2')))\n")],
        capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("names, version", [
    (["pyroute2-0.7.2.dist-info"], "0.7.2"),
    (["pyroute2-0.5.14-py3.6.egg-info"], "0.5.14"),
    (["pyroute2-0.7.2.dist-info", "pyroute2-0.9.7.dist-info"], "0.9.7"),
    ([], "unknown"),
])
def test_pyroute2_version_is_read_from_its_files(tmp_path, monkeypatch, names, version):
    (tmp_path / "pyroute2" / "netlink" / "generic").mkdir(parents=True)
    (tmp_path / "pyroute2" / "netlink" / "generic" / "mptcp.py").write_text("")
    for name in names:
        (tmp_path / name).mkdir()
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path / "pyroute2")])
    monkeypatch.setattr(pm_pyroute2, "find_spec", lambda name: spec)
    assert pm_pyroute2.pyroute2_version() == version
    # Before 0.5.19 there is no MPTCP module: as good as none.
    (tmp_path / "pyroute2" / "netlink" / "generic" / "mptcp.py").unlink()
    assert pm_pyroute2.pyroute2_version() is None


def test_pyroute2_version_without_pyroute2(monkeypatch):
    monkeypatch.setattr(pm_pyroute2, "find_spec", lambda name: None)
    assert pm_pyroute2.pyroute2_version() is None
