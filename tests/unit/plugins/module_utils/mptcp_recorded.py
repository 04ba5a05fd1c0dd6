"""What fixtures/mptcp_transfer/record.py recorded on Linux 6.18 / iproute2 6.1, for the
tests of the mptcp_transfer module_utils."""

import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "mptcp_transfer")
with open(os.path.join(FIXTURES, "recorded.json")) as _handle:
    RECORDED = json.load(_handle)


def recorded_text(name):
    """A text file recorded next to recorded.json (the /proc/net/netstat snapshots)."""
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()
