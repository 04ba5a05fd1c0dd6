"""systemd-sysctl's boot order, on a filesystem tree under tmp_path."""

import os
import re

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.precedence import (
    BootValues,
    boot_files,
    describe_conflict,
    find_conflicts,
    not_read_at_boot,
)

DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d")


def tree(root, files):
    """files: {relative path: text, or '->target' for a symlink}; returns root as str."""
    for relative in DIRS:
        (root / relative).mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], str(path))
        else:
            path.write_text(text)
    return str(root)


def relative(root, paths):
    return [os.path.relpath(path, root) for path in paths]


def test_files_are_ordered_by_name_and_an_earlier_directory_hides_a_name(tmp_path):
    root = tree(tmp_path, {
        "usr/lib/sysctl.d/10-a.conf": "", "etc/sysctl.d/10-a.conf": "",
        "usr/lib/sysctl.d/05-b.conf": "", "run/sysctl.d/20-c.conf": "",
        "usr/local/lib/sysctl.d/15-d.conf": "", "run/sysctl.d/15-d.conf": "",
        "etc/sysctl.d/README": "", "etc/sysctl.d/30-e.conf.dpkg-old": "",
        "etc/sysctl.conf": "",
    })
    assert relative(root, boot_files(root)) == [
        "usr/lib/sysctl.d/05-b.conf", "etc/sysctl.d/10-a.conf", "run/sysctl.d/15-d.conf",
        "run/sysctl.d/20-c.conf", "etc/sysctl.conf"]


def test_sysctl_conf_linked_as_99_sysctl_conf_counts_once(tmp_path):
    root = tree(tmp_path, {"etc/sysctl.conf": "", "etc/sysctl.d/99-sysctl.conf": "->../sysctl.conf",
                           "etc/sysctl.d/99-zzz.conf": ""})
    assert relative(root, boot_files(root)) == ["etc/sysctl.d/99-sysctl.conf",
                                                "etc/sysctl.d/99-zzz.conf"]


def test_lib_linked_to_usr_lib_is_not_read_twice(tmp_path):
    root = tree(tmp_path, {"usr/lib/sysctl.d/50-pid-max.conf": ""})
    os.symlink("usr/lib", str(tmp_path / "lib"))
    assert relative(root, boot_files(root)) == ["usr/lib/sysctl.d/50-pid-max.conf"]


def test_a_dev_null_link_in_etc_masks_the_vendor_file(tmp_path):
    root = tree(tmp_path, {"usr/lib/sysctl.d/50-mptcp.conf": "net.mptcp.enabled = 0\n",
                           "etc/sysctl.d/50-mptcp.conf": "->/dev/null"})
    assert relative(root, boot_files(root)) == ["etc/sysctl.d/50-mptcp.conf"]
    assert BootValues(boot_files(root)).winner("net.mptcp.enabled") == (None, None)


def test_planned_files_count_as_they_will_be(tmp_path):
    root = tree(tmp_path, {"etc/sysctl.d/10-gone.conf": "net.mptcp.enabled = 0\n"})
    new = os.path.join(root, "etc/sysctl.d/90-mptcp.conf")
    gone = os.path.join(root, "etc/sysctl.d/10-gone.conf")
    files = boot_files(root, planned={new: "net.mptcp.enabled = 1\n", gone: None})
    assert relative(root, files) == ["etc/sysctl.d/90-mptcp.conf"]


@pytest.mark.parametrize("files, expected", [
    ({}, (None, None)),
    ({"etc/sysctl.d/10-a.conf": "net.mptcp.enabled = 0\n",
      "usr/lib/sysctl.d/20-b.conf": "net.mptcp.enabled = 1\n"}, ("1", "usr/lib/sysctl.d/20-b.conf")),
    ({"etc/sysctl.d/10-a.conf": "net.mptcp.enabled = 0\nnet.mptcp.enabled = 1\n"},
     ("1", "etc/sysctl.d/10-a.conf")),
    ({"etc/sysctl.d/10-a.conf": "net/mptcp/enabled = 0\n"}, ("0", "etc/sysctl.d/10-a.conf")),
    ({"etc/sysctl.d/99-z.conf": "net.mptcp.enabled = 0\n", "etc/sysctl.conf": "net.mptcp.enabled=1\n"},
     ("1", "etc/sysctl.conf")),
    # An explicit key beats a glob, wherever each one is.
    ({"etc/sysctl.d/10-a.conf": "net.mptcp.enabled = 1\n",
      "etc/sysctl.d/99-z.conf": "net.mptcp.* = 0\n"}, ("1", "etc/sysctl.d/10-a.conf")),
    ({"etc/sysctl.d/99-z.conf": "net.mptcp.* = 0\n"}, ("0", "etc/sysctl.d/99-z.conf")),
    ({"etc/sysctl.d/10-a.conf": "net.mptcp.* = 0\n",
      "etc/sysctl.d/20-b.conf": "net.mptcp.enable? = 1\n"}, ("1", "etc/sysctl.d/20-b.conf")),
    ({"etc/sysctl.d/99-z.conf": "net.mptcp.* = 0\n-net.mptcp.enabled\n"}, (None, None)),
    # A glob's * stays within one level, as on /proc/sys paths.
    ({"etc/sysctl.d/99-z.conf": "net.* = 0\n"}, (None, None)),
    ({"etc/sysctl.d/99-z.conf": "net.*.enabled = 0\n"}, ("0", "etc/sysctl.d/99-z.conf")),
])
def test_the_winner_at_boot(tmp_path, files, expected):
    root = tree(tmp_path, files)
    value, path = BootValues(boot_files(root)).winner("net.mptcp.enabled")
    assert (value, path and os.path.relpath(path, root)) == expected


@pytest.fixture
def owned(tmp_path):
    return os.path.join(str(tmp_path), "etc/sysctl.d/90-mptcp.conf")


@pytest.mark.parametrize("files, conflicts", [
    ({"etc/sysctl.d/99-local.conf": "net.mptcp.enabled = 0\n"},
     [{"key": "net.mptcp.enabled", "file": "etc/sysctl.d/99-local.conf", "value": 0, "wanted": 1}]),
    # The owned file's explicit keys beat a glob read after it.
    ({"etc/sysctl.d/99-local.conf": "net.mptcp.* = 0\n"}, []),
    ({"etc/sysctl.conf": "net.mptcp.add_addr_timeout = 60000\n"},
     [{"key": "net.mptcp.add_addr_timeout", "file": "etc/sysctl.conf", "value": 60000,
       "wanted": 60}]),
    # The owned file is read after this one: it wins, no conflict.
    ({"usr/lib/sysctl.d/50-mptcp.conf": "net.mptcp.enabled = 0\n"}, []),
    # Same value, written differently.
    ({"etc/sysctl.d/99-local.conf": "net.mptcp.enabled = 01\nnet.mptcp.add_addr_timeout=60\n"}, []),
    ({"etc/sysctl.d/99-local.conf": "net.ipv4.ip_forward = 0\n"}, []),
])
def test_conflicts_are_the_files_that_set_another_value_and_win(tmp_path, owned, files, conflicts):
    root = tree(tmp_path, files)
    planned = {owned: "net.mptcp.enabled = 1\nnet.mptcp.add_addr_timeout = 60\n"}
    found = find_conflicts({"enabled": 1, "add_addr_timeout": 60}, root=root, planned=planned,
                           owned_path=owned)
    for conflict in found:
        conflict["file"] = os.path.relpath(conflict["file"], root)
    assert found == conflicts


def test_without_persisting_the_owned_file_itself_can_conflict(tmp_path, owned):
    root = tree(tmp_path, {"etc/sysctl.d/90-mptcp.conf": "net.mptcp.enabled = 0\n"})
    assert find_conflicts({"enabled": 1}, root=root, owned_path=None) == [
        {"key": "net.mptcp.enabled", "file": owned, "value": 0, "wanted": 1}]


def test_without_persisting_a_glob_can_conflict(tmp_path):
    root = tree(tmp_path, {"etc/sysctl.d/99-local.conf": "net.mptcp.* = 0\n"})
    assert find_conflicts({"enabled": 1, "scheduler": "0"}, root=root) == [
        {"key": "net.mptcp.enabled", "file": os.path.join(root, "etc/sysctl.d/99-local.conf"),
         "value": 0, "wanted": 1}]


def test_absent_values_never_conflict(tmp_path, owned):
    root = tree(tmp_path, {"etc/sysctl.d/99-local.conf": "net.mptcp.enabled = 0\n"})
    assert find_conflicts({"enabled": None}, root=root, owned_path=owned) == []


def test_a_conflict_is_described_with_both_files_and_both_values():
    conflict = {"key": "net.mptcp.enabled", "file": "/etc/sysctl.d/99-local.conf", "value": 0,
                "wanted": 1}
    assert describe_conflict(conflict, "/etc/sysctl.d/90-mptcp.conf") == (
        "net.mptcp.enabled: /etc/sysctl.d/99-local.conf sets 0 and wins at boot over "
        "/etc/sysctl.d/90-mptcp.conf, so after a reboot it will be 0, not 1")
    assert "wins at boot, so" in describe_conflict(conflict)


@pytest.mark.parametrize("path, reason", [
    ("etc/sysctl.d/90-mptcp.conf", None),
    ("run/sysctl.d/90-mptcp.conf", None),
    ("etc/sysctl.d/90-mptcp", "reads only \\*.conf files in /etc/sysctl.d, /run/sysctl.d"),
    ("etc/90-mptcp.conf", "reads only \\*.conf files"),
    ("usr/lib/sysctl.d/90-mptcp.conf", "etc/sysctl.d/90-mptcp.conf hides it"),
])
def test_not_read_at_boot_says_why(tmp_path, path, reason):
    root = tree(tmp_path, {"etc/sysctl.d/90-mptcp.conf": "net.mptcp.enabled = 0\n"}
                if path.startswith("usr/") else {})
    full = os.path.join(root, path)
    found = not_read_at_boot(full, root=root, planned={full: "net.mptcp.enabled = 1\n"})
    if reason is None:
        assert found is None
    else:
        assert found is not None and re.search(reason, found)
