"""Per-call time of the two path-manager backends, pyroute2 and iproute2, on this host.

Run as root from the repository: .venv/bin/python benchmarks/bench_pm_backends.py [CALLS]

It creates a namespace of its own (removed at the end) with four endpoints (two bound to a dev), then times
each operation CALLS times per backend and prints the median, and the ratio iproute2 /
pyroute2. Numbers only: nothing here asserts a time."""

import importlib.util
import os
import shutil
import statistics
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".tmp", "collections")))

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import open_backend  # noqa: E402
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import make_endpoint  # noqa: E402


def load_ip_runner():
    """The tests' subprocess runner for `ip` (tests/kernel/conftest.py), so that the
    benchmark runs the iproute2 backend exactly as the kernel tests do."""
    spec = importlib.util.spec_from_file_location("kernel_conftest", os.path.join(REPO, "tests", "kernel", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ip_runner


def median_ms(operation, calls):
    times = []
    for _call in range(calls):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def measure(backend_name, netns, ip_runner, calls):
    ip = shutil.which("ip")
    opened = open_backend(backend_name, netns, ip_runner, ip)
    toggled = make_endpoint("10.9.0.1", 1, None, "lo", ["subflow"])
    state = {"backup": False}

    def toggle_backup():
        state["backup"] = not state["backup"]
        opened.set_endpoint_flags(toggled, ["subflow", "backup"] if state["backup"] else ["subflow"])

    def add_and_delete():
        endpoint = make_endpoint("10.9.0.99", 99, None, None, ["signal"])
        opened.add_endpoint(endpoint)
        opened.delete_endpoint(endpoint)

    def open_read_close():
        other = open_backend(backend_name, netns, ip_runner, ip)
        other.read_endpoints()
        other.read_limits()
        other.close()

    try:
        return {
            "read endpoints (4, 2 w/ dev)": median_ms(opened.read_endpoints, calls),
            "read limits": median_ms(opened.read_limits, calls),
            "change flags in place": median_ms(toggle_backup, calls),
            "add + delete endpoint": median_ms(add_and_delete, calls),
            "open, read both, close": median_ms(open_read_close, calls),
        }
    finally:
        opened.close()


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    ip_runner = load_ip_runner()
    netns = "mptcp-bench-%s" % uuid.uuid4().hex[:8]
    ip_runner(["ip", "netns", "add", netns])
    try:
        for index in range(1, 5):
            dev = ["dev", "lo"] if index % 2 else []
            ip_runner(["ip", "-n", netns, "mptcp", "endpoint", "add", "10.9.0.%d" % index, "id", str(index),
                       "subflow"] + dev)
        results = dict((name, measure(name, netns, ip_runner, calls)) for name in ("pyroute2", "iproute2"))
    finally:
        ip_runner(["ip", "netns", "delete", netns])
    print("median per call over %d calls, in milliseconds (%s)" % (calls, ip_runner(["ip", "-V"])[1].strip()))
    print("%-28s %10s %10s %8s" % ("operation", "pyroute2", "iproute2", "ratio"))
    for operation in results["pyroute2"]:
        fast, slow = results["pyroute2"][operation], results["iproute2"][operation]
        print("%-28s %10.3f %10.3f %7.1fx" % (operation, fast, slow, slow / fast))


if __name__ == "__main__":
    main()
