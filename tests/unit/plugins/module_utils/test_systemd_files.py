"""The unit and drop-ins of mptcp_systemd: plans from found and wanted state, and the
files they leave in a real directory (systemctl recorded, not run)."""

import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import (
    FileState, Found, Systemctl, Wanted, apply_plan, plan_changes, read_found, validate)

UNIT = "[Unit]\nDescription=limits\n\n[Service]\nType=oneshot\nExecStart=/usr/sbin/ip mptcp limits set subflows 2\n\n[Install]\nWantedBy=multi-user.target\n"
DROPIN = "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/libmptcpwrap.so.0\"\n"
SOCKET_DROPIN = "[Socket]\nSocketProtocol=mptcp\n"
D = "/etc/systemd/system"


def wanted(**kwargs):
    base = dict(unit_name="mptcp-pm.service", unit_content=UNIT, dropin_name="50-mptcp.conf",
                dropin_content=DROPIN, services=["iperf3.service"])
    base.update(kwargs)
    return Wanted(**base)


def in_sync():
    return Found(files={D + "/mptcp-pm.service": FileState(UNIT),
                        D + "/iperf3.service.d/50-mptcp.conf": FileState(DROPIN)},
                 dirs={D + "/iperf3.service.d": (0o755, 0, 0)}, unit_enabled=True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(unit_name="mptcp-pm"), "not a unit name"),
    (dict(unit_name="../x.service"), "not a unit name"),
    (dict(services=["iperf3"]), "dropin.services='iperf3'"),
    (dict(dropin_name="50-mptcp"), "ending in .conf"),
    (dict(dropin_name="a/b.conf"), "ending in .conf"),
    (dict(dropin_content=None), "dropin.content is required"),
    (dict(unit_name=None, dropin_name=None), "give unit, dropin or both"),
    (dict(dropin_contents={"echo": SOCKET_DROPIN}), "dropin.contents='echo'"),
    (dict(dropin_contents={"echo.socket": ["[Socket]"]}), "dropin.contents\\['echo.socket'\\]: the drop-in's text must be a string"),
    (dict(dropin_content=None, dropin_contents={"echo.socket": SOCKET_DROPIN}), "dropin.content is required"),
])
def test_bad_inputs_are_named(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        validate(wanted(**kwargs))


def test_template_instances_and_sockets_are_unit_names():
    validate(wanted(services=["getty@tty1.service", "sshd.socket"]))


def test_in_sync_changes_nothing():
    plan = plan_changes(D, wanted(), in_sync())
    assert not plan.changed and plan.diff == [] and plan.services_changed == []


def test_missing_unit_is_written_and_enabled():
    found = in_sync()
    del found.files[D + "/mptcp-pm.service"]
    found.unit_enabled = True  # a dangling wants/ link: systemd says so, the file is gone
    plan = plan_changes(D, wanted(), found)
    assert plan.writes == [(D + "/mptcp-pm.service", UNIT)] and plan.enable
    assert plan.diff[0] == {"before_header": D + "/mptcp-pm.service",
                            "after_header": D + "/mptcp-pm.service", "before": "", "after": UNIT}
    assert plan.diff[1]["before"] == "disabled\n" and plan.diff[1]["after"] == "enabled\n"
    assert plan.services_changed == []


def test_disabled_unit_is_enabled_only():
    found = in_sync()
    found.unit_enabled = False
    plan = plan_changes(D, wanted(), found)
    assert plan.enable and plan.writes == [] and plan.files_changed == []
    assert [d["before_header"] for d in plan.diff] == ["systemctl is-enabled mptcp-pm.service"]


def test_edited_unit_is_rewritten_with_its_diff():
    found = in_sync()
    found.files[D + "/mptcp-pm.service"] = FileState(UNIT.replace("subflows 2", "subflows 8"))
    plan = plan_changes(D, wanted(), found)
    assert plan.files_changed == [D + "/mptcp-pm.service"] and not plan.enable
    assert "subflows 8" in plan.diff[0]["before"] and "subflows 2" in plan.diff[0]["after"]


def test_wrong_mode_is_fixed_without_rewriting():
    found = in_sync()
    found.files[D + "/iperf3.service.d/50-mptcp.conf"] = FileState(DROPIN, mode=0o600, uid=1000)
    plan = plan_changes(D, wanted(), found)
    assert plan.writes == [] and plan.fixes == [D + "/iperf3.service.d/50-mptcp.conf"]
    assert plan.services_changed == ["iperf3.service"]
    assert plan.diff[0]["before"] == "mode 0600, owner 1000:0\n"


def test_missing_dropin_and_its_directory():
    found = in_sync()
    del found.files[D + "/iperf3.service.d/50-mptcp.conf"]
    del found.dirs[D + "/iperf3.service.d"]
    plan = plan_changes(D, wanted(), found)
    assert plan.dirs == [D + "/iperf3.service.d"]
    assert plan.writes == [(D + "/iperf3.service.d/50-mptcp.conf", DROPIN)]
    assert plan.services_changed == ["iperf3.service"]


def test_dropins_of_unlisted_services_are_removed():
    found = in_sync()
    found.files[D + "/nginx.service.d/50-mptcp.conf"] = FileState(DROPIN)
    plan = plan_changes(D, wanted(), found)
    assert plan.removals == [D + "/nginx.service.d/50-mptcp.conf"]
    assert plan.diff[0]["after"] == "" and plan.services_changed == ["nginx.service"]


def test_absent_unit_is_disabled_and_removed():
    plan = plan_changes(D, wanted(unit_content=None, services=[]), in_sync())
    assert plan.disable and not plan.enable
    assert plan.removals == [D + "/mptcp-pm.service", D + "/iperf3.service.d/50-mptcp.conf"]
    assert plan.services_changed == ["iperf3.service"]


def test_absent_and_nothing_there_is_no_change():
    plan = plan_changes(D, wanted(unit_content=None, services=[]), Found())
    assert not plan.changed


def test_dropins_left_alone_without_dropin():
    found = in_sync()
    found.files[D + "/nginx.service.d/50-mptcp.conf"] = FileState(DROPIN)
    plan = plan_changes(D, wanted(dropin_name=None), found)
    assert not plan.changed


class Recorder:
    def __init__(self, enabled=False, fail=None):
        self.calls = []
        self.enabled = enabled
        self.fail = fail

    def __call__(self, argv):
        self.calls.append(argv[1:])
        if argv[1] == "is-enabled":
            return (0, "enabled\n", "") if self.enabled else (1, "disabled\n", "")
        if self.fail and argv[1] == self.fail:
            return 1, "", "Access denied"
        return 0, "", ""


class FakeModule:
    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)


def test_apply_writes_reloads_then_enables(tmp_path):
    unit_dir = str(tmp_path)
    run = Recorder()
    systemctl = Systemctl(run, "/bin/systemctl")
    want = wanted()
    plan = plan_changes(unit_dir, want, read_found(unit_dir, want, systemctl.is_enabled))
    apply_plan(FakeModule(), plan, want.unit_name, systemctl)
    assert (tmp_path / "mptcp-pm.service").read_text() == UNIT
    dropin = tmp_path / "iperf3.service.d" / "50-mptcp.conf"
    assert dropin.read_text() == DROPIN and oct(dropin.stat().st_mode & 0o777) == "0o644"
    assert oct((tmp_path / "iperf3.service.d").stat().st_mode & 0o777) == "0o755"
    # No unit file before: systemd is not asked whether it is enabled.
    assert run.calls == [["daemon-reload"], ["enable", "mptcp-pm.service"]]
    assert sorted(os.listdir(unit_dir)) == ["iperf3.service.d", "mptcp-pm.service"]

    run.calls, run.enabled = [], True
    again = plan_changes(unit_dir, want, read_found(unit_dir, want, systemctl.is_enabled))
    assert not again.changed and run.calls == [["is-enabled", "mptcp-pm.service"]]


def test_apply_absent_disables_before_removing(tmp_path):
    unit_dir = str(tmp_path)
    (tmp_path / "mptcp-pm.service").write_text(UNIT)
    (tmp_path / "nginx.service.d").mkdir()
    (tmp_path / "nginx.service.d" / "50-mptcp.conf").write_text(DROPIN)
    (tmp_path / "nginx.service.d" / "10-other.conf").write_text("[Service]\n")
    run = Recorder(enabled=True)
    systemctl = Systemctl(run, "/bin/systemctl")
    want = wanted(unit_content=None, services=[])
    plan = plan_changes(unit_dir, want, read_found(unit_dir, want, systemctl.is_enabled))
    apply_plan(FakeModule(), plan, want.unit_name, systemctl)
    assert run.calls == [["is-enabled", "mptcp-pm.service"], ["disable", "mptcp-pm.service"],
                         ["daemon-reload"]]
    assert sorted(os.listdir(unit_dir)) == ["nginx.service.d"]
    assert os.listdir(str(tmp_path / "nginx.service.d")) == ["10-other.conf"]


def test_a_systemctl_failure_is_reported(tmp_path):
    systemctl = Systemctl(Recorder(fail="enable"), "/bin/systemctl")
    want = wanted(dropin_name=None)
    plan = plan_changes(str(tmp_path), want, Found())
    with pytest.raises(MptcpError, match="systemctl enable mptcp-pm.service failed .*Access denied"):
        apply_plan(FakeModule(), plan, want.unit_name, systemctl)


def test_a_unit_of_contents_gets_its_own_text_and_the_others_the_common_one():
    want = wanted(dropin_contents={"echo.socket": SOCKET_DROPIN})
    found = in_sync()
    plan = plan_changes(D, want, found)
    assert plan.writes == [(D + "/echo.socket.d/50-mptcp.conf", SOCKET_DROPIN)]
    assert plan.dirs == [D + "/echo.socket.d"] and plan.services_changed == ["echo.socket"]
    found.files[D + "/echo.socket.d/50-mptcp.conf"] = FileState(SOCKET_DROPIN)
    found.dirs[D + "/echo.socket.d"] = (0o755, 0, 0)
    assert not plan_changes(D, want, found).changed


def test_a_unit_in_services_and_contents_gets_the_text_of_contents():
    want = wanted(services=["iperf3.service"], dropin_contents={"iperf3.service": SOCKET_DROPIN})
    plan = plan_changes(D, want, in_sync())
    assert plan.writes == [(D + "/iperf3.service.d/50-mptcp.conf", SOCKET_DROPIN)]


def test_a_unit_dropped_from_contents_loses_its_drop_in():
    found = in_sync()
    found.files[D + "/echo.socket.d/50-mptcp.conf"] = FileState(SOCKET_DROPIN)
    plan = plan_changes(D, wanted(), found)
    assert plan.removals == [D + "/echo.socket.d/50-mptcp.conf"] and plan.services_changed == ["echo.socket"]
