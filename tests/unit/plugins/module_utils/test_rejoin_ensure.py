"""mptcp_host's rejoin part (plugins/module_utils/rejoin/ensure.py, files.py): its files in a
directory of the test, systemd a double that keeps what it was told (enabled, active) and
logs every call; the files themselves are the oracle. Check mode changes nothing, a
second run changes nothing, a changed endpoint list restarts the service, absent stops
and removes all of it, and a host where it never was is not asked anything."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host import parts
from ansible_collections.mptcp.linux.plugins.module_utils.host.ensure import converge
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin import daemon
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin.ensure import ensure
from ansible_collections.mptcp.linux.plugins.module_utils.rejoin.files import UNIT_NAME, program_text

from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_host_parts import Readiness, endpoint, request

ENDPOINT = dict(address="198.18.2.10", dev="eth1", id=5, port=None, flags=["subflow"])


class Systemd:
    def __init__(self):
        self.enabled = set()
        self.active = set()
        self.calls = []
        self.refuse = None  # a verb that fails, as systemd refusing it

    def __call__(self, argv):
        verb, name = argv[1], (argv[2] if len(argv) > 2 else None)
        if verb not in ("is-enabled", "is-active"):
            self.calls.append(" ".join(argv[1:]))
        if verb == self.refuse:
            return 1, "", "Job for %s failed" % name
        if verb == "is-enabled":
            return (0, "enabled\n", "") if name in self.enabled else (1, "disabled\n", "")
        if verb == "is-active":
            return (0, "active\n", "") if name in self.active else (3, "inactive\n", "")
        {"enable": self.enabled.add, "disable": self.enabled.discard, "start": self.active.add,
         "restart": self.active.add, "stop": self.active.discard}.get(verb, lambda _name: None)(name)
        return 0, "", ""


class Host:
    diff = True

    def __init__(self, systemctl="/bin/systemctl"):
        self.systemd = Systemd()
        self.systemctl = systemctl

    def bin_path(self, name):
        return self.systemctl if name == "systemctl" else None

    def run(self, argv):
        return self.systemd(argv)

    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)


def params(tmp_path, state="present", endpoints=(ENDPOINT,)):
    return dict(state=state, program=str(tmp_path / "mptcp-rejoin.py"), config=str(tmp_path / "rejoin.json"),
                unit_dir=str(tmp_path), python="/usr/bin/python3", ip="/usr/sbin/ip", endpoints=list(endpoints),
                after="mptcp-pm.service")


def files(tmp_path):
    return sorted(name for name in os.listdir(str(tmp_path)))


def test_check_mode_changes_nothing_and_says_what_would(tmp_path):
    host = Host()
    result = ensure(params(tmp_path), True, host)
    assert result["changed"] is True
    assert result["files_changed"] == [str(tmp_path / name) for name in ("mptcp-rejoin.py", "mptcp-rejoin.service", "rejoin.json")]
    headers = [entry["after_header"] for entry in result["diff"]]
    assert "systemctl is-active mptcp-rejoin.service" in headers and "systemctl is-enabled mptcp-rejoin.service" in headers
    assert files(tmp_path) == [] and host.systemd.calls == []


def test_present_installs_enables_and_starts_then_changes_nothing(tmp_path):
    host = Host()
    assert ensure(params(tmp_path), False, host)["changed"] is True
    assert files(tmp_path) == ["mptcp-rejoin.py", "mptcp-rejoin.service", "rejoin.json"]
    assert (tmp_path / "mptcp-rejoin.py").read_text() == program_text()
    config = json.loads((tmp_path / "rejoin.json").read_text())
    assert config == {"ip": "/usr/sbin/ip", "settle": 0.5,
                      "endpoints": [{"address": "198.18.2.10", "dev": "eth1", "id": 5, "flags": ["subflow"]}]}
    unit = (tmp_path / UNIT_NAME).read_text()
    assert 'ExecStart="/usr/bin/python3" "%s" "%s"' % (tmp_path / "mptcp-rejoin.py", tmp_path / "rejoin.json") in unit
    assert host.systemd.calls == ["daemon-reload", "enable mptcp-rejoin.service", "start mptcp-rejoin.service"]
    host.systemd.calls = []
    again = ensure(params(tmp_path), False, host)
    assert again["changed"] is False and again["diff"] == [] and host.systemd.calls == []


def test_a_stopped_service_is_started(tmp_path):
    host = Host()
    ensure(params(tmp_path), False, host)
    host.systemd.active.clear()
    host.systemd.calls = []
    result = ensure(params(tmp_path), False, host)
    assert result["changed"] is True and result["files_changed"] == []
    assert host.systemd.calls == ["start mptcp-rejoin.service"]


def test_a_changed_endpoint_list_is_written_and_the_service_restarted(tmp_path):
    host = Host()
    ensure(params(tmp_path), False, host)
    host.systemd.calls = []
    changed = dict(ENDPOINT, flags=["subflow", "backup"])
    result = ensure(params(tmp_path, endpoints=[changed]), False, host)
    assert result["files_changed"] == [str(tmp_path / "rejoin.json")]
    assert host.systemd.calls == ["restart mptcp-rejoin.service"]
    assert json.loads((tmp_path / "rejoin.json").read_text())["endpoints"][0]["flags"] == ["subflow", "backup"]


def test_absent_stops_disables_and_removes_everything(tmp_path):
    host = Host()
    ensure(params(tmp_path), False, host)
    host.systemd.calls = []
    assert ensure(params(tmp_path, "absent"), True, host)["changed"] is True
    assert len(files(tmp_path)) == 3 and host.systemd.calls == []
    assert ensure(params(tmp_path, "absent"), False, host)["changed"] is True
    assert files(tmp_path) == []
    assert host.systemd.calls == ["stop mptcp-rejoin.service", "disable mptcp-rejoin.service", "daemon-reload"]
    assert host.systemd.active == set() and host.systemd.enabled == set()


def test_absent_where_it_never_was_asks_nothing_even_without_systemd(tmp_path):
    host = Host(systemctl=None)
    result = ensure(params(tmp_path, "absent"), False, host)
    assert result["changed"] is False and host.systemd.calls == []


def test_present_without_systemd_says_so(tmp_path):
    with pytest.raises(MptcpError, match="systemctl not found: mptcp-rejoin runs as a systemd service"):
        ensure(params(tmp_path), True, Host(systemctl=None))


def test_the_installed_program_runs_alone_with_the_standard_library(tmp_path):
    """The file as installed, outside the collection: it imports nothing of it."""
    (tmp_path / "mptcp-rejoin.py").write_text(program_text())
    done = subprocess.run([sys.executable, "-I", str(tmp_path / "mptcp-rejoin.py")], capture_output=True, text=True,
                          cwd=str(tmp_path), check=False)
    assert done.returncode == 2 and "usage:" in done.stderr, done.stderr
    assert program_text() == open(daemon.__file__).read()


# --- the part's parameters --------------------------------------------------------------

def test_the_part_is_present_with_rejoin_absent_without_it_and_with_state_absent():
    wanted = request(endpoints=[endpoint(gateway="198.18.2.1")], rejoin=True)
    present = parts.rejoin(wanted, Readiness(), {})
    assert present["state"] == "present" and present["ip"] == "/usr/sbin/ip" and present["python"] == sys.executable
    assert present["endpoints"] == [{"address": "198.18.2.10", "id": None, "dev": "eth1", "port": None, "flags": ["subflow"]}]
    assert parts.rejoin(request(endpoints=[endpoint()]), Readiness(), {})["state"] == "absent"
    assert [part.name for part in parts.PRESENT][-1] == "rejoin" and [part.name for part in parts.ABSENT][-1] == "rejoin"
    absent = [part for part in parts.ABSENT if part.name == "rejoin"][0]
    assert absent.params(request(state="absent", rejoin=True), Readiness(), {})["state"] == "absent"


def test_rejoin_without_endpoints_is_refused_naming_both():
    with pytest.raises(ValidationError, match="mptcp_rejoin=true adds endpoints again .* mptcp_endpoints lists none"):
        request(rejoin=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the owner and mode are checked only where the module runs as root")
def test_a_file_with_the_right_text_but_the_wrong_mode_is_written_again(tmp_path):
    host = Host()
    ensure(params(tmp_path), False, host)
    os.chmod(str(tmp_path / "rejoin.json"), 0o600)
    host.systemd.calls = []
    result = ensure(params(tmp_path), False, host)
    assert result["files_changed"] == [str(tmp_path / "rejoin.json")]
    assert oct((tmp_path / "rejoin.json").stat().st_mode & 0o777) == "0o644"
    assert ensure(params(tmp_path), False, host)["changed"] is False


@pytest.mark.parametrize("refused", ["start", "daemon-reload"])
def test_a_refused_install_puts_the_program_configuration_and_unit_back(tmp_path, refused):
    """systemd refusing to start the service (or to reload): no program, configuration or
    unit left behind, the unit not enabled, and the error says they were put back."""
    host = Host()
    host.systemd.refuse = refused
    with pytest.raises(MptcpError, match="systemctl %s.*failed .*put back as they were" % refused):
        ensure(params(tmp_path), False, host)
    assert files(tmp_path) == []
    assert host.systemd.enabled == set()


def test_a_refused_change_puts_the_old_configuration_back(tmp_path):
    host = Host()
    ensure(params(tmp_path), False, host)
    before = (tmp_path / "rejoin.json").read_text()
    host.systemd.refuse = "restart"
    with pytest.raises(MptcpError, match="systemctl restart mptcp-rejoin.service failed"):
        ensure(params(tmp_path, endpoints=[dict(ENDPOINT, flags=["subflow", "backup"])]), False, host)
    assert (tmp_path / "rejoin.json").read_text() == before


def test_the_systemd_part_is_undone_when_the_rejoin_part_after_it_is_refused(tmp_path):
    """mptcp-rejoin comes after the boot unit and the drop-ins: refused, it leaves neither
    behind, and the error names the systemd part as undone (not "nothing changed")."""
    host = Host()
    host.warnings = []
    systemd_params = dict(unit=dict(name="mptcp-pm.service", content="[Unit]\n", enabled=True, state="present"),
                          dropin=dict(name="50-mptcp.conf", content="[Service]\n", services=["iperf3.service"]),
                          unit_dir=str(tmp_path), daemon_reload=True)

    def refused(params, check_mode, host):
        raise MptcpError("systemctl start mptcp-rejoin.service failed (rc=1): boom")
    batch = [parts.Part("systemd", "mptcp.linux.mptcp_systemd", lambda r, h, res: systemd_params, parts.run_systemd),
             parts.Part("rejoin", "mptcp.linux.mptcp_host", lambda r, h, res: {}, refused)]
    with pytest.raises(MptcpError) as error:
        converge(batch, request(), Readiness(), False, host)
    assert files(tmp_path) == []
    assert "mptcp-pm.service" not in host.systemd.enabled
    assert str(error.value).startswith("rejoin: systemctl start mptcp-rejoin.service failed (rc=1): boom. "
                                       "The 1 step(s) already done were undone: systemd ("), str(error.value)
