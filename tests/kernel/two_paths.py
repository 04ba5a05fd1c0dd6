"""Two network namespaces joined by two veth paths, for the tests of paths that come back
(test_rejoin.py, test_path_return.py): FIRST.0/24 carries the connection (client c1 .1,
server s1 .2), SECOND.0/24 is the client's second path, a `subflow` endpoint (id 5) on
c2. The client has net.ipv4.tcp_retries2=3 (per namespace), so that a subflow whose
packets go nowhere is reset within about 3 s instead of TCP's 15 minutes; mptcp-rejoin
(plugins/module_utils/rejoin/daemon.py) is started in it on demand. Every process
started is killed by stop()."""

import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAEMON = os.path.join(REPO, "plugins", "module_utils", "rejoin", "daemon.py")
DAEMON_BOUND = 10.0  # seconds: it listens within a second


class TwoPaths:
    def __init__(self, make_netns, first, second):
        self.server_address = first + ".2"
        self.second_address = second + ".1"
        self.client = make_netns()
        self.server = make_netns()
        self.client.link_to(self.server, "c1", "s1", first + ".1/24", self.server_address + "/24")
        self.client.link_to(self.server, "c2", "s2", self.second_address + "/24", second + ".2/24")
        for ns in (self.client, self.server):
            ns.ip("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
        self.client.exec("sysctl", "-qw", "net.ipv4.tcp_retries2=3")
        self.endpoint = dict(address=self.second_address, dev="c2", id=5, flags=["subflow"])
        self.client.ip("mptcp", "endpoint", "add", self.second_address, "dev", "c2", "id", "5", "subflow")
        self.processes = []
        self.daemon = None

    def start(self, ns, argv, **kwargs):
        process = subprocess.Popen(["ip", "netns", "exec", ns.name] + argv, text=True, **kwargs)
        self.processes.append(process)
        return process

    def start_daemon(self, directory):
        config = os.path.join(directory, "rejoin.json")
        with open(config, "w") as handle:
            json.dump(dict(ip="ip", settle=0.3, endpoints=[self.endpoint]), handle)
        path = os.path.join(directory, "daemon.log")
        log = open(path, "w")
        self.daemon = self.start(self.client, [sys.executable, DAEMON, config], stdout=log, stderr=log)
        # It says "watching" once it listens and has read the host's links and addresses.
        deadline = time.monotonic() + DAEMON_BOUND
        while "watching" not in open(path).read():
            assert self.daemon.poll() is None and time.monotonic() < deadline, open(path).read()
            time.sleep(0.05)

    def stop(self):
        for process in reversed(self.processes):
            process.kill()
            process.wait()
