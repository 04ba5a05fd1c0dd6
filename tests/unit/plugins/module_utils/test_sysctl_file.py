"""Sysctl file syntax (as systemd-sysctl reads it) and the owned file: render, parse,
atomic write, removal."""

import errno
import os
import stat

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import file as sysctl_file
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.file import (
    HEADER,
    OwnedFile,
    check_path,
    normalise_key,
    parse_assignments,
    render,
)
from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import commit, read_text, remove, stage


class RenamingModule:
    """What commit() needs of AnsibleModule: atomic_move, here a plain rename (the real
    one is exercised by the kernel tests)."""

    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)


@pytest.mark.parametrize("key, expected", [
    ("net.mptcp.enabled", "net.mptcp.enabled"),
    ("net/mptcp/enabled", "net.mptcp.enabled"),
    (" net.mptcp.enabled\t", "net.mptcp.enabled"),
    # sysctl.d(5): the first separator decides; the other kind is part of a name.
    ("net.ipv4.conf.enp3s0/200.forwarding", "net.ipv4.conf.enp3s0/200.forwarding"),
    ("net/ipv4/conf/enp3s0.200/forwarding", "net.ipv4.conf.enp3s0/200.forwarding"),
])
def test_keys_are_normalised_to_the_dotted_form(key, expected):
    assert normalise_key(key) == expected


@pytest.mark.parametrize("line, key, value", [
    ("net.mptcp.enabled=1", "net.mptcp.enabled", "1"),
    ("  net.mptcp.enabled  =  1  ", "net.mptcp.enabled", "1"),
    ("net/mptcp/scheduler = default", "net.mptcp.scheduler", "default"),
    ("-net.mptcp.enabled = 1", "net.mptcp.enabled", "1"),  # `-`: ignore a failure
    ("-net.mptcp.enabled", "net.mptcp.enabled", None),  # keeps the key out of globs
    ("kernel.core_pattern = |/bin/x a=b", "kernel.core_pattern", "|/bin/x a=b"),
    ("net.mptcp.scheduler =", "net.mptcp.scheduler", ""),
])
def test_an_assignment_line_is_read_as_systemd_reads_it(line, key, value):
    (assignment,) = parse_assignments(line + "\n")
    assert (assignment.key, assignment.value) == (key, value)


@pytest.mark.parametrize("line", ["", "   ", "# net.mptcp.enabled = 1", "; net.mptcp.enabled = 1",
                                  "  # indented comment", "not an assignment", "-"])
def test_comments_blank_and_malformed_lines_set_nothing(line):
    assert parse_assignments(line + "\n") == []


def test_assignments_keep_their_order_and_line_numbers():
    text = "# header\nnet.mptcp.enabled = 0\n\nnet.mptcp.* = 1\nnet.mptcp.enabled = 1\n"
    assert [(a.key, a.value, a.lineno, a.is_glob()) for a in parse_assignments(text)] == [
        ("net.mptcp.enabled", "0", 2, False), ("net.mptcp.*", "1", 4, True),
        ("net.mptcp.enabled", "1", 5, False)]


def test_the_owned_file_keeps_the_last_assignment_of_a_key():
    owned = OwnedFile("/x.conf", "net.mptcp.enabled = 0\nnet.mptcp.enabled = 1\n")
    assert owned.entries == {"net.mptcp.enabled": "1"}


def test_a_file_with_lines_that_are_not_settings_is_not_taken_over():
    OwnedFile("/x.conf", HEADER + "\n; note\n-net.ipv4.ip_forward\nnet.mptcp.enabled = 1\n").check_ours()
    with pytest.raises(ValidationError) as caught:
        OwnedFile("/etc/hosts", "# hosts\n127.0.0.1 localhost\n::1 localhost\n").check_ours()
    assert str(caught.value) == (
        "path=/etc/hosts holds lines that are not sysctl settings (line 2: '127.0.0.1 localhost' and 1 more); "
        "the module rewrites its file whole, so they would be lost: give it a file of its own")


def test_the_owned_files_managed_values_are_normalised_and_exclude_other_keys_and_globs():
    owned = OwnedFile("/x.conf", "net.mptcp.enabled = 01\nnet.mptcp.scheduler = default \n"
                                 "net.ipv4.ip_forward = 1\nnet.mptcp.* = 0\nnet.ipv4.conf.*.rp_filter = 2\n"
                                 "net.ipv4.conf.eth1.rp_filter = 2\nnet/ipv4/conf/eth0.100/rp_filter = 0\n")
    assert owned.managed_values() == {"enabled": 1, "scheduler": "default", "net.ipv4.conf.eth1.rp_filter": 2,
                                      "net.ipv4.conf.eth0/100.rp_filter": 0}


@pytest.mark.parametrize("text, state, wanted, expected", [
    (None, "present", {"enabled": 1}, {"net.mptcp.enabled": "1"}),
    ("net.mptcp.enabled = 0\n", "present", {"enabled": 1, "add_addr_timeout": 60},
     {"net.mptcp.enabled": "1", "net.mptcp.add_addr_timeout": "60"}),
    ("net.mptcp.enabled = 0\nnet.mptcp.close_timeout = 5\n", "absent", {"enabled": None},
     {"net.mptcp.close_timeout": "5"}),
    ("net.mptcp.enabled = 0\n", "absent", {"enabled": None}, {}),
    ("net.mptcp.enabled = 0\n", "absent", {"scheduler": None}, {"net.mptcp.enabled": "0"}),
    # Someone else's key in the owned file is kept.
    ("net.ipv4.ip_forward = 1\nnet.mptcp.enabled = 1\n", "absent", {"enabled": None},
     {"net.ipv4.ip_forward": "1"}),
])
def test_entries_after_set_present_keys_and_drop_absent_ones(text, state, wanted, expected):
    owned = OwnedFile("/x.conf", text)
    before = dict(owned.entries)
    assert owned.entries_after(state, wanted) == expected
    assert owned.entries == before


def test_render_writes_the_header_then_the_keys_sorted():
    text = render({"net.mptcp.enabled": "1", "net.mptcp.add_addr_timeout": "60"})
    assert text == HEADER + "\nnet.mptcp.add_addr_timeout = 60\nnet.mptcp.enabled = 1\n"
    assert OwnedFile("/x.conf", text).entries == {
        "net.mptcp.enabled": "1", "net.mptcp.add_addr_timeout": "60"}


def test_render_gives_no_file_when_no_key_is_left():
    assert render({}) is None


def test_read_text_of_a_missing_file_is_none(tmp_path):
    assert read_text(str(tmp_path / "missing.conf")) is None
    (tmp_path / "there.conf").write_text("a = 1\n")
    assert read_text(str(tmp_path / "there.conf")) == "a = 1\n"


def test_read_text_of_an_unreadable_path_fails_clearly(tmp_path):
    with pytest.raises(MptcpError, match="cannot read"):
        read_text(str(tmp_path))


@pytest.fixture
def root(tmp_path):
    (tmp_path / "etc" / "sysctl.d").mkdir(parents=True)
    (tmp_path / "etc" / "sysctl.conf").write_text("# the distribution's\n")
    os.symlink("../sysctl.conf", str(tmp_path / "etc" / "sysctl.d" / "99-sysctl.conf"))
    return tmp_path


def test_check_path_takes_a_file_in_an_existing_directory(root):
    check_path(str(root / "etc" / "sysctl.d" / "90-mptcp.conf"), root=str(root))


@pytest.mark.parametrize("relative, message", [
    ("etc/sysctl.d", "is a directory"),
    ("etc/nowhere/90-mptcp.conf", "the directory .* does not exist"),
    ("etc/sysctl.conf", "belongs to the distribution"),
    ("etc/sysctl.d/99-sysctl.conf", "belongs to the distribution"),  # a link to it
])
def test_check_path_refuses_paths_the_module_must_not_own(root, relative, message):
    with pytest.raises(ValidationError, match=message):
        check_path(str(root / relative), root=str(root))


def test_check_path_refuses_a_relative_path():
    with pytest.raises(ValidationError, match="must be an absolute path"):
        check_path("90-mptcp.conf")


def test_stage_writes_a_hidden_root_owned_0644_file_in_the_same_directory(tmp_path):
    path = str(tmp_path / "90-mptcp.conf")
    temp = stage(path, "net.mptcp.enabled = 1\n")
    assert os.path.dirname(temp) == str(tmp_path)
    name = os.path.basename(temp)
    # Hidden and not *.conf: a left-over would never be read by systemd-sysctl.
    assert name.startswith(".90-mptcp.conf.") and not name.endswith(".conf")
    info = os.stat(temp)
    assert stat.S_IMODE(info.st_mode) == 0o644
    assert (info.st_uid, info.st_gid) == (0, 0)
    with open(temp) as handle:
        assert handle.read() == "net.mptcp.enabled = 1\n"
    assert not os.path.exists(path)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_a_failed_write_leaves_no_file_and_says_why(tmp_path, monkeypatch, error):
    path = tmp_path / "90-mptcp.conf"
    path.write_text("net.mptcp.enabled = 0\n")

    def failing_fsync(fd):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(sysctl_file.os, "fsync", failing_fsync)
    with pytest.raises(MptcpError) as failure:
        stage(str(path), "net.mptcp.enabled = 1\n")
    assert os.strerror(error) in str(failure.value)
    assert "the file was left as it was" in str(failure.value)
    assert os.listdir(str(tmp_path)) == ["90-mptcp.conf"]
    assert path.read_text() == "net.mptcp.enabled = 0\n"


def test_stage_into_a_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(MptcpError, match="cannot write .*No such file or directory"):
        stage(str(tmp_path / "gone" / "90-mptcp.conf"), "x = 1\n")


def test_commit_replaces_the_file_and_resets_its_owner_and_mode(tmp_path):
    path = tmp_path / "90-mptcp.conf"
    path.write_text("old\n")
    os.chmod(str(path), 0o600)
    temp = stage(str(path), "new\n")
    commit(RenamingModule(), temp, str(path))
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert os.listdir(str(tmp_path)) == ["90-mptcp.conf"]


def test_remove_deletes_the_file_and_fails_clearly_when_it_cannot(tmp_path):
    path = tmp_path / "90-mptcp.conf"
    path.write_text("x = 1\n")
    remove(str(path))
    assert not path.exists()
    with pytest.raises(MptcpError, match="cannot remove .*No such file"):
        remove(str(path))
