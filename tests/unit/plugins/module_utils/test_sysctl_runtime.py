"""/proc/sys/net/mptcp read and written under a tmp_path root (the real kernel is in
tests/kernel)."""

import errno
import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import runtime as sysctl_runtime
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import (
    apply_values,
    read_snapshot,
    rollback,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_sysctl_keys import KERNEL_6_18


def make_proc(root, values=None):
    """A /proc/sys/net/mptcp under root, with the kernel's modes; returns root as str."""
    directory = root / "proc/sys/net/mptcp"
    directory.mkdir(parents=True)
    for name, value in (KERNEL_6_18 if values is None else values).items():
        (directory / name).write_text(value + "\n")
        os.chmod(str(directory / name), 0o444 if name.startswith("available_") else 0o644)
    return str(root)


def proc_value(root, name):
    with open(os.path.join(str(root), "proc/sys/net/mptcp", name)) as handle:
        return handle.read()


def test_a_snapshot_holds_stripped_values_and_the_writable_keys(tmp_path):
    snapshot = read_snapshot(make_proc(tmp_path))
    assert snapshot.values["enabled"] == "1"
    assert snapshot.values["available_path_managers"] == "kernel userspace"
    assert "available_schedulers" not in snapshot.writable()
    assert snapshot.writable()[:2] == ["add_addr_timeout", "allow_join_initial_addr_port"]
    assert snapshot.choices("available_path_managers") == ["kernel", "userspace"]
    assert snapshot.choices("available_missing") == []


def test_normalised_runtime_values_are_typed(tmp_path):
    snapshot = read_snapshot(make_proc(tmp_path))
    assert snapshot.normalised(["enabled", "scheduler", "missing"]) == {
        "enabled": 1, "scheduler": "default"}
    assert "available_schedulers" not in snapshot.normalised()


def test_a_kernel_without_mptcp_is_named(tmp_path):
    with pytest.raises(MptcpError, match="this kernel has no MPTCP"):
        read_snapshot(str(tmp_path))


def test_values_are_written_in_order(tmp_path):
    root = make_proc(tmp_path)
    snapshot = read_snapshot(root)
    assert apply_values([("enabled", 0), ("add_addr_timeout", 60)], snapshot, root) == [
        "enabled", "add_addr_timeout"]
    assert proc_value(root, "enabled") == "0\n"
    assert proc_value(root, "add_addr_timeout") == "60\n"
    assert read_snapshot(root).normalised(["enabled", "add_addr_timeout"]) == {
        "enabled": 0, "add_addr_timeout": 60}


def test_a_failed_write_puts_back_what_was_written_and_names_the_key(tmp_path):
    root = make_proc(tmp_path)
    snapshot = read_snapshot(root)
    # A directory where the key should be: the write fails with EISDIR.
    os.unlink(os.path.join(root, "proc/sys/net/mptcp/scheduler"))
    os.mkdir(os.path.join(root, "proc/sys/net/mptcp/scheduler"))
    with pytest.raises(MptcpError) as error:
        apply_values([("enabled", 0), ("close_timeout", 5), ("scheduler", "default")],
                     snapshot, root)
    assert str(error.value).startswith("cannot set net.mptcp.scheduler=default at runtime: "
                                       "Is a directory")
    assert "net.mptcp.enabled, net.mptcp.close_timeout put back to their previous values" \
        in str(error.value)
    assert proc_value(root, "enabled") == "1\n"
    assert proc_value(root, "close_timeout") == "60\n"


@pytest.mark.parametrize("code, why", [
    (errno.EROFS, "/proc/sys is mounted read-only here"),
    (errno.EACCES, "needs CAP_NET_ADMIN"),
    (errno.EPERM, "needs CAP_NET_ADMIN"),
    (errno.EINVAL, "the kernel refused the value"),
    (errno.ENOENT, "the kernel refused the value"),
    (errno.EIO, "the write failed"),
])
def test_a_failed_write_says_why(tmp_path, monkeypatch, code, why):
    root = make_proc(tmp_path)

    def failing_write(root, short, value):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(sysctl_runtime, "_write", failing_write)
    with pytest.raises(MptcpError) as error:
        apply_values([("enabled", 0)], read_snapshot(root), root)
    assert os.strerror(code) in str(error.value)
    assert why in str(error.value)
    assert "put back" not in str(error.value)


def test_rollback_reports_the_keys_it_could_not_restore(tmp_path):
    root = make_proc(tmp_path)
    snapshot = read_snapshot(root)
    apply_values([("enabled", 0), ("close_timeout", 5)], snapshot, root)
    os.unlink(os.path.join(root, "proc/sys/net/mptcp/close_timeout"))
    os.mkdir(os.path.join(root, "proc/sys/net/mptcp/close_timeout"))
    assert rollback(["enabled", "close_timeout"], snapshot, root) == ["net.mptcp.close_timeout"]
    assert proc_value(root, "enabled") == "1\n"
