"""A path-manager run reads what it needs once: the namespace is resolved once (the lock
and the backend share its bind mount), and with backend=auto the endpoints read to choose
the backend are the ones the plan starts from."""

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager import backend as pm_backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager import ensure as pm_ensure
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_pm_iproute2 import (
    LIMITS_SHOWN,
    USAGE_6_1,
    FakeIp,
)

ENDPOINT_SHOW = ("-j", "mptcp", "endpoint", "show")
# Flags iproute2 6.1 can set: auto takes iproute2.
ENDPOINTS_JSON = '[{"address":"10.1.0.1","id":1,"subflow":true},{"address":"10.1.0.2","id":2,"signal":true}]'


class FakeHost:
    """module_exit.ModuleHost's interface over a FakeIp."""

    diff = False

    def __init__(self, run):
        self.run = run
        self.warnings = []

    def bin_path(self, name, required=False):
        return "/usr/sbin/" + name

    def warn(self, message):
        self.warnings.append(message)


def fake_ip():
    return FakeIp({("mptcp", "help"): (255, "", USAGE_6_1), ("-V",): (0, "ip utility, iproute2-6.1.0\n", ""),
                   ENDPOINT_SHOW: (0, ENDPOINTS_JSON, ""), ("limits", "show"): (0, LIMITS_SHOWN, "")})


def endpoint_params(**params):
    base = dict(address="198.18.9.9", id=None, port=None, dev=None, flags=["subflow"], endpoints=None,
                state="present", exclusive=False, backend="auto", netns=None)
    base.update(params)
    return base


def test_backend_auto_reads_the_endpoints_once_to_choose_and_to_plan():
    run = fake_ip()
    result = pm_ensure.ensure_endpoint_module(endpoint_params(), True, FakeHost(run))
    assert result["backend"] == "iproute2" and result["changed"]
    assert [argv[1:] for argv in run.calls].count(list(ENDPOINT_SHOW)) == 1


def test_the_namespace_is_resolved_once_for_the_lock_and_the_backend(monkeypatch, tmp_path):
    mount = tmp_path / "ns1"
    mount.write_text("")
    resolved = []

    def netns_path(name):
        resolved.append(name)
        return str(mount)

    monkeypatch.setattr(pm_ensure, "netns_path", netns_path)
    monkeypatch.setattr(pm_backend, "netns_path", netns_path)
    run = fake_ip()
    result = pm_ensure.ensure_endpoint_module(endpoint_params(netns="ns1"), True, FakeHost(run))
    assert result["backend"] == "iproute2"
    assert resolved == ["ns1"]
    reads = [argv for argv in run.calls if "endpoint" in argv]
    assert reads and all(argv[1:3] == ["-n", "ns1"] for argv in reads)
