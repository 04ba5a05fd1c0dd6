"""mptcp_sysctl's decisions (changed, diff, what to write) and doing them all or nothing."""

import errno
import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import file as sysctl_file
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import HEADER, OwnedFile
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.plan import (
    apply_plan,
    check_modes,
    plan_changes,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import read_snapshot
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_sysctl_file import RenamingModule
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_sysctl_runtime import make_proc, proc_value

OWNED = "/etc/sysctl.d/90-mptcp.conf"
ENABLED_FILE = HEADER + "\nnet.mptcp.enabled = 1\n"


def plan(tmp_path, wanted, state="present", runtime=True, persist=True, text=None):
    snapshot = read_snapshot(make_proc(tmp_path))
    return plan_changes(wanted, state, runtime, persist, snapshot, OwnedFile(OWNED, text))


@pytest.mark.parametrize("state, runtime, persist, message", [
    ("absent", True, False, "with persist=false it has nothing to do"),
    ("absent", False, False, "with persist=false it has nothing to do"),
    ("present", False, False, "nothing to apply"),
])
def test_combinations_that_do_nothing_are_refused(state, runtime, persist, message):
    with pytest.raises(ValidationError, match=message):
        check_modes(state, runtime, persist)


@pytest.mark.parametrize("state, runtime, persist", [
    ("present", True, True), ("present", True, False), ("present", False, True),
    ("absent", True, True), ("absent", False, True),
])
def test_combinations_that_do_something_are_taken(state, runtime, persist):
    check_modes(state, runtime, persist)


def test_only_differing_runtime_values_are_written(tmp_path):
    result = plan(tmp_path, {"enabled": 0, "add_addr_timeout": 120, "scheduler": "default"})
    assert result.runtime_changes == [("enabled", 0)]
    assert result.runtime_tracker.differences() == [("net.mptcp.enabled", 1, 0)]


def test_nothing_differs_nothing_changes(tmp_path):
    result = plan(tmp_path, {"enabled": 1}, text=ENABLED_FILE)
    assert not result.changed and result.runtime_changes == []
    assert result.file_text_after == ENABLED_FILE


def test_a_file_that_says_the_same_in_other_words_is_not_rewritten(tmp_path):
    text = "# by hand\nnet/mptcp/enabled=01\n"
    result = plan(tmp_path, {"enabled": 1}, text=text)
    assert not result.changed
    assert result.file_text_after == text


@pytest.mark.parametrize("runtime, persist, runtime_changes, file_changed", [
    (True, True, [("enabled", 0)], True),
    (True, False, [("enabled", 0)], False),
    (False, True, [], True),
])
def test_runtime_and_persist_choose_what_is_planned(tmp_path, runtime, persist,
                                                    runtime_changes, file_changed):
    result = plan(tmp_path, {"enabled": 0}, runtime=runtime, persist=persist)
    assert result.runtime_changes == runtime_changes
    assert result.file_changed is file_changed
    assert result.changed


def test_a_new_file_holds_the_header_and_sorted_keys(tmp_path):
    result = plan(tmp_path, {"enabled": 1, "add_addr_timeout": 60})
    assert result.file_text_after == (HEADER + "\nnet.mptcp.add_addr_timeout = 60\n"
                                      "net.mptcp.enabled = 1\n")
    assert result.persisted() == {"enabled": 1, "add_addr_timeout": 60}


def test_absent_drops_keys_keeps_runtime_and_removes_an_empty_file(tmp_path):
    text = HEADER + "\nnet.mptcp.add_addr_timeout = 60\nnet.mptcp.enabled = 0\n"
    result = plan(tmp_path, {"enabled": None}, state="absent", text=text)
    assert result.runtime_changes == []
    assert result.file_text_after == HEADER + "\nnet.mptcp.add_addr_timeout = 60\n"
    last = plan(tmp_path / "again", {"add_addr_timeout": None, "enabled": None}, state="absent",
                text=text)
    assert last.changed and last.file_text_after is None and last.persisted() == {}


def test_absent_of_keys_not_in_the_file_changes_nothing(tmp_path):
    result = plan(tmp_path, {"scheduler": None}, state="absent", text=ENABLED_FILE)
    assert not result.changed
    assert plan(tmp_path / "none", {"scheduler": None}, state="absent").changed is False


def test_absent_removes_a_file_with_no_key_left(tmp_path):
    result = plan(tmp_path, {"enabled": None}, state="absent", text=HEADER + "\n")
    assert result.changed and result.file_text_after is None


def test_the_diff_shows_runtime_and_file_before_and_after(tmp_path):
    result = plan(tmp_path, {"enabled": 0}, text=ENABLED_FILE)
    runtime, text = result.diff(runtime=True, persist=True)
    assert runtime["before"] == {"net.mptcp.enabled": 1}
    assert runtime["after"] == {"net.mptcp.enabled": 0}
    assert runtime["before_header"] == "runtime (/proc/sys/net/mptcp)"
    assert text == {"before": ENABLED_FILE, "after": HEADER + "\nnet.mptcp.enabled = 0\n",
                    "before_header": OWNED, "after_header": OWNED}


@pytest.mark.parametrize("runtime, persist, headers", [
    (True, False, ["runtime (/proc/sys/net/mptcp)"]), (False, True, [OWNED]),
])
def test_the_diff_leaves_out_what_is_not_managed(tmp_path, runtime, persist, headers):
    result = plan(tmp_path, {"enabled": 0}, runtime=runtime, persist=persist)
    assert [part["before_header"] for part in result.diff(runtime, persist)] == headers


@pytest.mark.parametrize("wanted, expected", [
    ({"pm_type": 1}, {"pm_type": 1, "path_manager": "userspace"}),
    ({"path_manager": "userspace"}, {"pm_type": 1, "path_manager": "userspace"}),
    ({"enabled": 0}, {"pm_type": 0, "path_manager": "kernel", "enabled": 0}),
])
def test_runtime_after_follows_the_kernel_keeping_pm_type_and_path_manager_in_step(
        tmp_path, wanted, expected):
    root = make_proc(tmp_path)
    snapshot = read_snapshot(root)
    result = plan_changes(wanted, "present", True, False, snapshot, OwnedFile(OWNED, None))
    after = result.runtime_after(snapshot)
    assert dict((key, after[key]) for key in expected) == expected


@pytest.fixture
def host(tmp_path):
    """A root with /proc/sys/net/mptcp and an owned file that sets enabled = 1."""
    root = make_proc(tmp_path)
    owned = tmp_path / "etc" / "sysctl.d" / "90-mptcp.conf"
    owned.parent.mkdir(parents=True)
    owned.write_text(ENABLED_FILE)
    return root, str(owned)


def host_plan(host, wanted, state="present"):
    root, owned = host
    snapshot = read_snapshot(root)
    with open(owned) as handle:
        text = handle.read()
    return plan_changes(wanted, state, True, True, snapshot, OwnedFile(owned, text)), snapshot


def test_apply_writes_runtime_and_file(host):
    root, owned = host
    result, snapshot = host_plan(host, {"enabled": 0, "close_timeout": 30})
    apply_plan(result, snapshot, RenamingModule(), root)
    assert proc_value(root, "enabled") == "0\n"
    assert proc_value(root, "close_timeout") == "30\n"
    with open(owned) as handle:
        assert handle.read() == result.file_text_after
    assert os.listdir(os.path.dirname(owned)) == ["90-mptcp.conf"]


def test_apply_absent_removes_the_file_and_leaves_runtime(host):
    root, owned = host
    result, snapshot = host_plan(host, {"enabled": None}, state="absent")
    apply_plan(result, snapshot, RenamingModule(), root)
    assert not os.path.exists(owned)
    assert proc_value(root, "enabled") == "1\n"


def test_a_failed_runtime_write_leaves_the_file_and_the_other_keys_as_they_were(host):
    root, owned = host
    result, snapshot = host_plan(host, {"close_timeout": 30, "enabled": 0})
    os.unlink(os.path.join(root, "proc/sys/net/mptcp/enabled"))
    os.mkdir(os.path.join(root, "proc/sys/net/mptcp/enabled"))
    with pytest.raises(MptcpError, match="cannot set net.mptcp.enabled=0 at runtime"):
        apply_plan(result, snapshot, RenamingModule(), root)
    assert proc_value(root, "close_timeout") == "60\n"
    with open(owned) as handle:
        assert handle.read() == ENABLED_FILE
    assert os.listdir(os.path.dirname(owned)) == ["90-mptcp.conf"]


def test_a_failed_file_write_touches_no_runtime_value(host, monkeypatch):
    root, owned = host

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    result, snapshot = host_plan(host, {"enabled": 0})
    monkeypatch.setattr(sysctl_file.os, "fsync", full_disk)
    with pytest.raises(MptcpError, match="No space left on device"):
        apply_plan(result, snapshot, RenamingModule(), root)
    assert proc_value(root, "enabled") == "1\n"
    assert os.listdir(os.path.dirname(owned)) == ["90-mptcp.conf"]


class FailingMoveModule:
    """AnsibleModule.atomic_move ends the module with fail_json (SystemExit) when the
    rename fails."""

    @staticmethod
    def atomic_move(src, dest):
        raise SystemExit(1)


def test_a_failed_move_puts_runtime_back_and_leaves_no_temporary_file(host):
    root, owned = host
    result, snapshot = host_plan(host, {"enabled": 0})
    with pytest.raises(SystemExit):
        apply_plan(result, snapshot, FailingMoveModule(), root)
    assert proc_value(root, "enabled") == "1\n"
    assert os.listdir(os.path.dirname(owned)) == ["90-mptcp.conf"]
    with open(owned) as handle:
        assert handle.read() == ENABLED_FILE
