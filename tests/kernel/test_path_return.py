"""mptcp_transfer's rejoin_away between two namespaces over two veth paths, against the
kernel's own path manager: during the transfer the client's second path (c2) is taken
away (its address removed, or its link down) until its subflow closed, given back, and
the client times how long until the connection uses it again. With mptcp-rejoin running
in the client's namespace it is used again by a new subflow; without it, never.

The oracle is the kernel's own account, `ip mptcp monitor` in the client's namespace
during the transfer: SF_ESTABLISHED from the second path's address before it went and
again after it came back (and SF_CLOSED between), never the module's report of itself.
The client namespace has net.ipv4.tcp_retries2=3 (per namespace), so that a subflow whose
packets go nowhere is reset within about 3 s instead of TCP's 15 minutes. The rejoin
times are printed (`-s`), not asserted."""

import json
import subprocess
import time

import pytest

from two_paths import TwoPaths

PORT = 5291
SERVER = "198.19.26.2"
SECOND = "198.19.27.1"


class Paths(TwoPaths):
    """two_paths.TwoPaths on 198.19.26.0/24 (the connection's first path) and
    198.19.27.0/24 (the second, which joins the server's first address through c2), both
    shaped to the lab's rate: the data goes on while the path is away and back."""

    def __init__(self, make_netns, run_module, start_module):
        super().__init__(make_netns, "198.19.26", "198.19.27")
        for link in ("c1", "c2"):
            self.client.exec("tc", "qdisc", "replace", "dev", link, "root", "tbf", "rate", "50mbit", "burst", "32kbit",
                             "latency", "50ms")
        self.run_module = run_module
        self.start_module = start_module

    def transfer(self, away, wait=6):
        monitor = self.start(self.client, ["ip", "mptcp", "monitor"], stdout=subprocess.PIPE)
        time.sleep(0.3)  # the monitor subscribes before the first event
        server = self.start_module("mptcp_transfer", {"role": "server", "port": PORT, "timeout": 90},
                                   inside_netns=self.server.name)
        client = self.run_module("mptcp_transfer", {
            "role": "client", "address": SERVER, "port": PORT, "timeout": 60, "size": "40MiB",
            "fail_interface": "c2", "fail_after_fraction": 0.2, "rejoin_away": away, "rejoin_hold": 15,
            "rejoin_wait": wait}, inside_netns=self.client.name)
        server.result(timeout=90)
        monitor.terminate()
        lines = monitor.communicate()[0].splitlines()
        return client, [line for line in lines if "saddr4=%s " % SECOND in line]


@pytest.fixture
def paths(make_netns, module_runner, module_starter):
    made = Paths(make_netns, module_runner, module_starter)
    try:
        yield made
    finally:
        made.stop()


def kinds(events):
    return [line.split("]")[0].strip("[ ") for line in events]


@pytest.mark.parametrize("away", ["address", "link"])
def test_with_mptcp_rejoin_the_path_is_used_again_and_timed(paths, tmp_path, away, capsys):
    paths.start_daemon(str(tmp_path))
    client, events = paths.transfer(away)
    assert not client.get("failed"), client.get("msg")
    rejoin = client["rejoin"]
    with capsys.disabled():
        print("\nrejoin after %s given back: %s s (subflow closed %s s after it went)"
              % (away, rejoin["rejoin_seconds"], rejoin["closed_after_seconds"]))
    # The kernel's account: the second path's subflow established, closed, established again.
    assert kinds(events)[:3] == ["SF_ESTABLISHED", "SF_CLOSED", "SF_ESTABLISHED"], events
    assert rejoin["subflow_closed"] and rejoin["rejoined"] and rejoin["new_subflow"], json.dumps(rejoin)
    assert SECOND in rejoin["addresses"] and rejoin["restored"], rejoin
    assert client["checksum_matched"], client


@pytest.mark.parametrize("away", ["address"])
def test_without_anything_that_adds_the_endpoint_again_it_is_not_used_again(paths, away):
    client, events = paths.transfer(away, wait=4)
    assert not client.get("failed"), client.get("msg")
    rejoin = client["rejoin"]
    assert kinds(events).count("SF_ESTABLISHED") == 1, events
    assert rejoin["subflow_closed"] and rejoin["rejoined"] is False and rejoin["rejoin_seconds"] is None, json.dumps(rejoin)
    assert client["checksum_matched"], client
