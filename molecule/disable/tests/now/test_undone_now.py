"""At once after mptcp_state: absent, before any reboot: the role's runtime undo (MPTCP
off, its endpoints removed, iperf3 restarted without the preload, unit and drop-ins gone).
A reboot resets limits and endpoints by itself, so only this check sees the undo that
the role does at runtime."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "tests"))

import expected  # noqa: E402  pylint: disable=wrong-import-position


def test_the_host_did_not_reboot(host):
    # converge's values are still there where absent leaves them: the kernel has no
    # "unset" for limits and sysctls (README: limits stay as set until the next reboot;
    # mptcp_sysctl state=absent leaves runtime values as they are).
    assert expected.limits(host) == expected.role_limits(host)
    assert expected.sysctl(host, "add_addr_timeout") == "60"


def test_everything_is_undone_now(host):
    expected.assert_undone(host)
