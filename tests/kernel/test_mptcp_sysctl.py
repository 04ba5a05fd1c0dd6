"""mptcp.linux.mptcp_sysctl against the real kernel: the module runs inside a fresh network
namespace (net.mptcp.* belongs to it) and writes its file to a temporary path, or to
/etc/sysctl.d seen through a private mount of a temporary directory. The machine's own
namespace and files are never written; a guard checks its net.mptcp values after each test."""

import os
import stat
import subprocess

import pytest
import yaml

from ansible_output import failed_cleanly

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = "# Managed by Ansible (mptcp.linux.mptcp_sysctl): edits here are overwritten.\n"
PROC = "/proc/sys/net/mptcp"


def host_values():
    return dict((name, open(os.path.join(PROC, name)).read()) for name in sorted(os.listdir(PROC)))


@pytest.fixture(autouse=True)
def host_untouched():
    before = host_values()
    yield
    assert host_values() == before, "the machine's own net.mptcp values changed"


def ns_values(netns):
    """{key: text} of /proc/sys/net/mptcp inside the namespace."""
    out = netns.exec("grep", "-r", ".", PROC).stdout
    return dict((line.split(":", 1)[0][len(PROC) + 1:], line.split(":", 1)[1])
                for line in out.splitlines())


def listing(directory):
    return sorted(os.listdir(str(directory)))


@pytest.fixture
def conf(tmp_path):
    """The owned file's path in a directory of its own."""
    directory = tmp_path / "sysctl.d"
    directory.mkdir()
    return directory / "90-mptcp.conf"


@pytest.fixture
def sysctl(netns, module_runner, conf):
    """Run mptcp_sysctl in the namespace with path=conf unless given."""
    def run(check_mode=False, wrap=None, **args):
        args.setdefault("path", str(conf))
        return module_runner("mptcp_sysctl", args, check_mode=check_mode,
                             inside_netns=netns.name, wrap=wrap)
    return run


def assert_failed_cleanly(result, *fragments):
    assert result.get("failed") is True, result
    assert result.get("changed") is False
    assert failed_cleanly(result), result
    assert "Traceback" not in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


def test_sets_runtime_and_file_then_a_second_run_changes_nothing(sysctl, netns, conf):
    settings = {"enabled": 0, "net.mptcp.add_addr_timeout": "60", "scheduler": "default"}
    first = sysctl(settings=settings)
    assert first["changed"] is True
    values = ns_values(netns)
    assert (values["enabled"], values["add_addr_timeout"], values["scheduler"]) == (
        "0", "60", "default")
    assert conf.read_text() == (HEADER + "net.mptcp.add_addr_timeout = 60\n"
                                "net.mptcp.enabled = 0\nnet.mptcp.scheduler = default\n")
    info = os.stat(str(conf))
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o644, 0, 0)
    assert listing(conf.parent) == ["90-mptcp.conf"]
    assert first["persisted"] == {"enabled": 0, "add_addr_timeout": 60, "scheduler": "default"}
    assert first["runtime"]["enabled"] == 0 and first["runtime"]["close_timeout"] == 60
    assert first["conflicts"] == []

    # The same, spelled otherwise.
    second = sysctl(settings={"net.mptcp.enabled": "no", "add_addr_timeout": 60,
                              "scheduler": " default"})
    assert "failed" not in second, second["msg"]
    assert second["changed"] is False, second.get("diff")
    assert second["runtime"] == first["runtime"]
    assert second["persisted"] == first["persisted"]


def test_the_diff_shows_runtime_and_file_before_and_after(sysctl, conf):
    result = sysctl(settings={"enabled": False, "checksum_enabled": "yes"})
    runtime, text = result["diff"]
    assert runtime["before"] == {"net.mptcp.checksum_enabled": 0, "net.mptcp.enabled": 1}
    assert runtime["after"] == {"net.mptcp.checksum_enabled": 1, "net.mptcp.enabled": 0}
    assert text["before"] == "" and text["after_header"] == str(conf)
    assert text["after"] == (HEADER + "net.mptcp.checksum_enabled = 1\nnet.mptcp.enabled = 0\n")


def test_check_mode_reports_the_change_and_touches_nothing(sysctl, netns, conf):
    conf.write_text("net.mptcp.enabled = 1\n")
    before = ns_values(netns)
    result = sysctl(settings={"enabled": 0, "close_timeout": 30}, check_mode=True)
    assert result["changed"] is True
    assert result["runtime"]["enabled"] == 0 and result["runtime"]["close_timeout"] == 30
    assert result["persisted"] == {"enabled": 0, "close_timeout": 30}
    assert result["diff"][1]["after"] == (HEADER + "net.mptcp.close_timeout = 30\n"
                                          "net.mptcp.enabled = 0\n")
    assert ns_values(netns) == before
    assert conf.read_text() == "net.mptcp.enabled = 1\n"
    assert listing(conf.parent) == ["90-mptcp.conf"]


def test_check_mode_of_absent_keeps_the_file(sysctl, conf):
    sysctl(settings={"enabled": 1})
    text = conf.read_text()
    result = sysctl(settings={"enabled": None}, state="absent", check_mode=True)
    assert result["changed"] is True and result["persisted"] == {}
    assert conf.read_text() == text


def test_check_mode_with_nothing_to_do_is_unchanged(sysctl):
    sysctl(settings={"enabled": 1})
    assert sysctl(settings={"enabled": 1}, check_mode=True)["changed"] is False


# Bad inputs (unknown keys, out-of-range values, bad paths...) are rows of the table
# tests/data/bad_inputs.yml, run by tests/kernel/test_bad_inputs.py.


@pytest.mark.parametrize("key, value", [
    # The largest values the kernel takes (add_addr_timeout/close_timeout: on every HZ).
    ("add_addr_timeout", 2147483), ("close_timeout", 0), ("blackhole_timeout", 2147483647),
    ("stale_loss_cnt", 4294967295), ("syn_retrans_before_tcp_fallback", 255),
    ("allow_join_initial_addr_port", 0), ("checksum_enabled", 1), ("path_manager", "userspace"),
])
def test_the_edges_of_every_rule_are_taken_by_the_kernel(sysctl, netns, key, value):
    result = sysctl(settings={key: value}, persist=False)
    assert result["changed"] is True and result["runtime"][key] == value
    assert ns_values(netns)[key] == str(value)


@pytest.mark.parametrize("key, value, refusal", [
    ("enabled", "2", "Invalid argument"), ("pm_type", "2", "Invalid argument"),
    ("blackhole_timeout", "2147483648", "Invalid argument"),
    ("stale_loss_cnt", "4294967296", "Invalid argument"),
    ("stale_loss_cnt", "-1", "Invalid argument"),
    ("syn_retrans_before_tcp_fallback", "256", "Invalid argument"),
    # A name not in available_*: ENOENT, not EINVAL.
    ("scheduler", "bogus", "No such file or directory"),
    ("path_manager", "bogus", "No such file or directory"),
])
def test_the_kernel_itself_refuses_what_validation_refuses(netns, key, value, refusal):
    """Validation is not stricter than needed here: the kernel says no to these too."""
    before = ns_values(netns)[key]
    code = "import os; os.write(os.open('%s/%s', os.O_WRONLY), b'%s')" % (PROC, key, value)
    result = netns.exec("python3", "-c", code, check=False)
    assert result.returncode != 0 and refusal in result.stderr, result.stderr
    assert ns_values(netns)[key] == before


def test_every_available_scheduler_is_taken(sysctl, netns):
    for scheduler in ns_values(netns)["available_schedulers"].split():
        assert sysctl(settings={"scheduler": scheduler}, persist=False)["runtime"][
            "scheduler"] == scheduler


def test_pm_type_moves_path_manager_with_it(sysctl, netns):
    result = sysctl(settings={"pm_type": 1}, persist=False)
    assert result["runtime"]["path_manager"] == "userspace"
    assert ns_values(netns)["path_manager"] == "userspace"
    assert sysctl(settings={"path_manager": "userspace", "pm_type": 1},
                  persist=False)["changed"] is False


def test_runtime_false_writes_only_the_file(sysctl, netns, conf):
    result = sysctl(settings={"enabled": 0}, runtime=False)
    assert result["changed"] is True and result["runtime"]["enabled"] == 1
    assert ns_values(netns)["enabled"] == "1"
    assert conf.read_text() == HEADER + "net.mptcp.enabled = 0\n"
    assert [part["before_header"] for part in result["diff"]] == [str(conf)]


def test_persist_false_writes_only_runtime(sysctl, netns, conf):
    result = sysctl(settings={"enabled": 0}, persist=False)
    assert result["changed"] is True and result["persisted"] == {}
    assert ns_values(netns)["enabled"] == "0"
    assert not conf.exists()


def test_absent_drops_keys_leaves_runtime_and_removes_the_empty_file(sysctl, netns, conf):
    sysctl(settings={"enabled": 0, "close_timeout": 30})
    result = sysctl(settings={"net.mptcp.enabled": None}, state="absent")
    assert result["changed"] is True and result["persisted"] == {"close_timeout": 30}
    assert conf.read_text() == HEADER + "net.mptcp.close_timeout = 30\n"
    assert ns_values(netns)["enabled"] == "0"  # runtime left as it is

    result = sysctl(settings={"close_timeout": None}, state="absent")
    assert result["changed"] is True and result["persisted"] == {}
    assert not conf.exists()
    assert ns_values(netns)["close_timeout"] == "30"

    again = sysctl(settings={"close_timeout": None}, state="absent")
    assert again["changed"] is False and not conf.exists()


def test_absent_keeps_a_key_someone_else_put_in_the_file(sysctl, conf):
    conf.write_text("net.ipv4.ip_forward = 1\nnet.mptcp.enabled = 1\n")
    sysctl(settings={"enabled": None}, state="absent")
    assert conf.read_text() == HEADER + "net.ipv4.ip_forward = 1\n"


def test_a_file_written_differently_but_equal_is_left_alone(sysctl, conf):
    conf.write_text("# mine\nnet/mptcp/enabled=1\nnet.mptcp.add_addr_timeout = 0x3c\n")
    result = sysctl(settings={"enabled": 1, "add_addr_timeout": 60}, runtime=False)
    assert result["changed"] is False
    assert conf.read_text().startswith("# mine\n")


def read_only(path):
    return [["mount", "--bind", path, path], ["mount", "-o", "remount,bind,ro", path]]


def test_a_read_only_proc_sys_fails_clearly_and_changes_nothing(
        sysctl, netns, conf, private_mounts):
    """As in a container: /proc/sys bind-mounted read-only (in a mount namespace of the
    module's own, inside the test's network namespace)."""
    wrap = private_mounts(read_only("/proc/sys"))
    result = sysctl(settings={"close_timeout": 30, "enabled": 0}, wrap=wrap)
    assert_failed_cleanly(result, "cannot set net.mptcp.close_timeout=30 at runtime: "
                                  "Read-only file system",
                          "/proc/sys is mounted read-only here", "runtime=false")
    assert ns_values(netns)["close_timeout"] == "60"
    assert not conf.exists() and listing(conf.parent) == []


def test_a_read_only_proc_sys_is_fine_when_nothing_must_change_there(
        sysctl, netns, conf, private_mounts):
    wrap = private_mounts(read_only("/proc/sys"))
    result = sysctl(settings={"enabled": 1}, wrap=wrap)
    assert result["changed"] is True and "failed" not in result
    assert conf.read_text() == HEADER + "net.mptcp.enabled = 1\n"
    assert sysctl(settings={"enabled": 0}, runtime=False, wrap=wrap)["changed"] is True
    assert ns_values(netns)["enabled"] == "1"


def test_a_read_only_directory_fails_clearly_before_runtime_is_touched(
        sysctl, netns, conf, private_mounts):
    conf.write_text("net.mptcp.enabled = 1\n")
    wrap = private_mounts(read_only(str(conf.parent)))
    result = sysctl(settings={"enabled": 0}, wrap=wrap)
    assert_failed_cleanly(result, "cannot write %s: Read-only file system" % conf,
                          "the file was left as it was")
    assert ns_values(netns)["enabled"] == "1"
    assert conf.read_text() == "net.mptcp.enabled = 1\n"
    assert listing(conf.parent) == ["90-mptcp.conf"]


def test_a_full_filesystem_leaves_no_partial_file(sysctl, netns, conf, tmp_path,
                                                  private_mounts):
    """A two-page tmpfs over the directory, holding the old file and one page of filler;
    what it holds after the run is copied out to be checked."""
    conf.write_text("net.mptcp.enabled = 1\n")
    (tmp_path / "filler").write_bytes(b"x" * 4096)
    out = tmp_path / "after"
    out.mkdir()
    directory = str(conf.parent)
    wrap = private_mounts(
        [["cp", str(conf), str(tmp_path / "old.conf")],
         ["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", directory],
         ["cp", str(tmp_path / "old.conf"), str(conf)],
         ["cp", str(tmp_path / "filler"), directory + "/filler"]],
        after=[["cp", "-a", directory + "/.", str(out)]])
    result = sysctl(settings={"enabled": 0, "close_timeout": 30}, wrap=wrap)
    assert_failed_cleanly(result, "cannot write %s: No space left on device" % conf)
    assert ns_values(netns)["enabled"] == "1" and ns_values(netns)["close_timeout"] == "60"
    assert listing(out) == ["90-mptcp.conf", "filler"]
    assert (out / "90-mptcp.conf").read_text() == "net.mptcp.enabled = 1\n"


@pytest.fixture
def sysctl_d(tmp_path, private_mounts):
    """Temporary /etc/sysctl.d and /etc/sysctl.conf the module sees at their real paths."""
    directory = tmp_path / "etc-sysctl.d"
    directory.mkdir()
    sysctl_conf = tmp_path / "sysctl.conf"
    sysctl_conf.write_text("# the distribution's\n")
    wrap = private_mounts([["mount", "--bind", str(directory), "/etc/sysctl.d"],
                           ["mount", "--bind", str(sysctl_conf), "/etc/sysctl.conf"]])
    return directory, sysctl_conf, wrap


def test_the_default_path_in_etc_sysctl_d_is_read_at_boot(sysctl, sysctl_d):
    directory, _sysctl_conf, wrap = sysctl_d
    result = sysctl(settings={"enabled": 1}, path="/etc/sysctl.d/90-mptcp.conf", wrap=wrap)
    assert result["changed"] is True and result["conflicts"] == []
    assert not result.get("warnings")
    assert (directory / "90-mptcp.conf").read_text() == HEADER + "net.mptcp.enabled = 1\n"


def test_a_path_not_read_at_boot_gives_a_warning(sysctl, conf):
    result = sysctl(settings={"enabled": 1})
    assert any("%s is not read at boot: systemd-sysctl reads only *.conf files" % conf in warning
               for warning in result["warnings"])


@pytest.mark.parametrize("other, conflicts", [
    ({"99-local.conf": "net.mptcp.enabled = 0\n"},
     [{"key": "net.mptcp.enabled", "file": "/etc/sysctl.d/99-local.conf", "value": 0,
       "wanted": 1}]),
    ({"10-early.conf": "net.mptcp.enabled = 0\n"}, []),
    ({"99-local.conf": "net.mptcp.enabled = 1\n"}, []),
    ({"99-glob.conf": "net.mptcp.* = 0\n"}, []),
    ({"sysctl.conf": "net.mptcp.add_addr_timeout = 60000\n"},
     [{"key": "net.mptcp.add_addr_timeout", "file": "/etc/sysctl.conf", "value": 60000,
       "wanted": 60}]),
])
def test_a_file_that_wins_at_boot_with_another_value_is_a_conflict(sysctl, netns, sysctl_d,
                                                                   other, conflicts):
    directory, sysctl_conf, wrap = sysctl_d
    for name, text in other.items():
        (sysctl_conf if name == "sysctl.conf" else directory / name).write_text(text)
    result = sysctl(settings={"enabled": 1, "add_addr_timeout": 60},
                    path="/etc/sysctl.d/90-mptcp.conf", wrap=wrap)
    assert result["conflicts"] == conflicts
    for conflict in conflicts:
        warning = ("%s: %s sets %s and wins at boot over /etc/sysctl.d/90-mptcp.conf, so after "
                   "a reboot it will be %s, not %s" % (
                       conflict["key"], conflict["file"], conflict["value"], conflict["value"],
                       conflict["wanted"]))
        assert warning in result["warnings"]
    # The other files are read, never edited.
    for name, text in other.items():
        assert (sysctl_conf if name == "sysctl.conf" else directory / name).read_text() == text


def test_without_persisting_the_boot_value_still_counts(sysctl, sysctl_d):
    directory, _sysctl_conf, wrap = sysctl_d
    (directory / "50-vendor.conf").write_text("net.mptcp.enabled = 0\n")
    result = sysctl(settings={"enabled": 1}, persist=False, wrap=wrap, check_mode=True)
    assert result["conflicts"] == [{"key": "net.mptcp.enabled",
                                    "file": "/etc/sysctl.d/50-vendor.conf", "value": 0,
                                    "wanted": 1}]


def module_examples():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "mptcp_sysctl", os.path.join(REPO, "plugins/modules/mptcp_sysctl.py"))
    source = open(spec.origin).read()
    namespace = {}
    start = source.index('EXAMPLES = r"""')
    exec(source[start:source.index('"""', start + 15) + 3], namespace)
    return yaml.safe_load(namespace["EXAMPLES"])


def test_the_examples_run(netns, sysctl_d, tmp_path):
    """The module's EXAMPLES, as a play, against the namespace and the temporary
    /etc/sysctl.d: they run, and leave what they say."""
    directory, _sysctl_conf, wrap = sysctl_d
    netns.add_interface("eth1")  # the second uplink of the rp_filter example
    tasks = module_examples()
    assert all(task.get("become") in (None, True) for task in tasks)
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}]))
    argv = ["ip", "netns", "exec", netns.name] + wrap + [
        os.path.join(REPO, ".venv/bin/ansible-playbook"), str(playbook)]
    # The implicit localhost: the controller's Python, no inventory. No sudo here: su as root.
    env = dict(os.environ, ANSIBLE_BECOME_METHOD="su", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", LC_ALL="C.UTF-8")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout
    assert (directory / "90-mptcp.conf").read_text() == (
        HEADER + "net.ipv4.conf.eth1.rp_filter = 2\nnet.mptcp.checksum_enabled = 0\nnet.mptcp.enabled = 0\n"
        "net.mptcp.scheduler = default\n")
    assert rp_filter_of(netns, "eth1") == "2"
    assert ns_values(netns)["enabled"] == "0" and ns_values(netns)["add_addr_timeout"] == "60"


# --- net.ipv4.conf.IFACE.rp_filter: the one key outside net.mptcp (issue 18) ------------------
# The oracle is the namespace's own /proc/sys/net/ipv4/conf/IFACE/rp_filter, and for the
# file, procps' `sysctl -p` applying it to a namespace.

def rp_filter_of(netns, iface):
    return netns.exec("cat", "/proc/sys/net/ipv4/conf/%s/rp_filter" % iface).stdout.strip()


def set_rp_filter(netns, iface, value):
    netns.exec("sh", "-c", "echo %d > /proc/sys/net/ipv4/conf/%s/rp_filter" % (value, iface))


def test_rp_filter_of_an_interface_is_set_now_and_in_the_file_then_a_second_run_changes_nothing(sysctl, netns, conf):
    netns.add_interface("eth1")
    set_rp_filter(netns, "all", 1)
    set_rp_filter(netns, "eth1", 1)
    first = sysctl(settings={"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2})
    assert "failed" not in first, first["msg"]
    assert first["changed"] is True
    assert rp_filter_of(netns, "eth1") == "2"
    assert rp_filter_of(netns, "all") == "1"  # only the interface asked for
    assert conf.read_text() == HEADER + "net.ipv4.conf.eth1.rp_filter = 2\nnet.mptcp.enabled = 1\n"
    assert first["persisted"] == {"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2}
    assert first["runtime"]["net.ipv4.conf.eth1.rp_filter"] == 2
    runtime = first["diff"][0]
    assert runtime["before"]["net.ipv4.conf.eth1.rp_filter"] == 1
    assert runtime["after"]["net.ipv4.conf.eth1.rp_filter"] == 2
    assert runtime["after_header"] == "runtime (/proc/sys/net/mptcp, /proc/sys/net/ipv4/conf)"

    second = sysctl(settings={"enabled": "1", "net/ipv4/conf/eth1/rp_filter": "2"})
    assert second["changed"] is False, second.get("diff")
    assert second["runtime"] == first["runtime"]


def test_rp_filter_in_check_mode_changes_nothing(sysctl, netns, conf):
    netns.add_interface("eth1")
    set_rp_filter(netns, "eth1", 1)
    conf.write_text("net.mptcp.enabled = 1\n")
    result = sysctl(settings={"net.ipv4.conf.eth1.rp_filter": 2}, check_mode=True)
    assert result["changed"] is True
    assert result["runtime"]["net.ipv4.conf.eth1.rp_filter"] == 2
    assert result["persisted"] == {"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2}
    assert rp_filter_of(netns, "eth1") == "1"
    assert conf.read_text() == "net.mptcp.enabled = 1\n"
    assert listing(conf.parent) == ["90-mptcp.conf"]


def test_an_interface_with_a_dot_is_written_as_systemd_and_procps_read_it(sysctl, netns, make_netns, conf):
    """eth0.100 (a VLAN) is net.ipv4.conf.eth0/100.rp_filter in a sysctl file: written with
    its dot, the key would be read as net/ipv4/conf/eth0/100/rp_filter."""
    netns.add_interface("v.7")
    result = sysctl(settings={"net.ipv4.conf.v.7.rp_filter": 2})
    assert result["changed"] is True and rp_filter_of(netns, "v.7") == "2"
    assert conf.read_text() == HEADER + "net.ipv4.conf.v/7.rp_filter = 2\n"
    # procps reads the file into a fresh namespace with the same interface.
    fresh = make_netns()
    fresh.add_interface("v.7")
    applied = fresh.exec("sysctl", "-p", str(conf))
    assert applied.stdout.strip() == "net.ipv4.conf.v/7.rp_filter = 2"
    assert rp_filter_of(fresh, "v.7") == "2"
    assert sysctl(settings={"net/ipv4/conf/v.7/rp_filter": 2})["changed"] is False


def test_absent_drops_rp_filter_from_the_file_and_leaves_the_runtime_value(sysctl, netns, conf):
    netns.add_interface("eth1")
    sysctl(settings={"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2})
    result = sysctl(settings={"net.ipv4.conf.eth1.rp_filter": None}, state="absent")
    assert result["changed"] is True and result["persisted"] == {"enabled": 1}
    assert conf.read_text() == HEADER + "net.mptcp.enabled = 1\n"
    assert rp_filter_of(netns, "eth1") == "2"
    # An interface that is gone since is dropped from the file all the same.
    sysctl(settings={"net.ipv4.conf.eth1.rp_filter": 2})
    netns.ip("link", "delete", "eth1")
    gone = sysctl(settings={"net.ipv4.conf.eth1.rp_filter": None}, state="absent")
    assert "failed" not in gone, gone["msg"]
    assert conf.read_text() == HEADER + "net.mptcp.enabled = 1\n"


def test_rp_filter_of_an_interface_that_does_not_exist_is_refused_naming_it(sysctl, netns, conf):
    netns.add_interface("eth1")
    set_rp_filter(netns, "eth1", 1)
    result = sysctl(settings={"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2, "net.ipv4.conf.eth9.rp_filter": 2})
    assert_failed_cleanly(result, "net.ipv4.conf.eth9.rp_filter: there is no interface eth9 in this network "
                                  "namespace (no /proc/sys/net/ipv4/conf/eth9); the interfaces are: eth1, eth1p, lo")
    assert rp_filter_of(netns, "eth1") == "1"
    assert not conf.exists()


@pytest.mark.parametrize("value, refusal", [(3, "net.ipv4.conf.eth1.rp_filter=3: must be 0 (off), 1 (strict) or 2 (loose)"),
                                            ("loose", "net.ipv4.conf.eth1.rp_filter='loose': must be 0 (off)")])
def test_an_rp_filter_value_other_than_0_1_2_is_refused(sysctl, netns, conf, value, refusal):
    netns.add_interface("eth1")
    result = sysctl(settings={"net.ipv4.conf.eth1.rp_filter": value})
    assert_failed_cleanly(result, refusal)
    assert rp_filter_of(netns, "eth1") == "0" and not conf.exists()
