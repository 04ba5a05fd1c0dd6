"""What this machine's `ip` can do, read by the tests themselves (`ip mptcp help`, `ip -V`),
not by the collection's parser of the same text, so a test never learns what to expect from
the code it judges.

A test whose outcome depends on it runs on one side and is skipped on the other with the
reason in pytest's summary (-rs): never a silent `if`. laminar through `ip` needs iproute2
6.19 or later (Debian 12 has 6.1, Debian 13 6.15); tests/lab/test_laminar_lab.py runs both
sides on Debian forky's iproute2 7.2 and Debian 12's 6.1."""

import shutil
import subprocess

import pytest

IP = shutil.which("ip")
_HELP = subprocess.run([IP, "mptcp", "help"], capture_output=True, text=True, check=False)
VERSION = subprocess.run([IP, "-V"], capture_output=True, text=True, check=False).stdout.strip()
# `FLAG  := [ signal | subflow | laminar | backup | fullmesh ]` from 6.19 on.
KNOWS_LAMINAR = "laminar" in _HELP.stdout + _HELP.stderr

# For a test that asserts one outcome where `ip` knows laminar and another where it does not.
IP_SIDES = pytest.mark.parametrize("ip_knows_laminar", [False, True], ids=["ip-without-laminar", "ip-with-laminar"])


def on_side(ip_knows_laminar):
    """Skip the test unless this machine's `ip` is on the side it is for, saying so."""
    if ip_knows_laminar != KNOWS_LAMINAR:
        pytest.skip("this machine's ip (%s) %s laminar: the other side runs in tests/lab/test_laminar_lab.py"
                    % (VERSION, "knows" if KNOWS_LAMINAR else "does not know"))


def laminar_by(ip_knows_laminar):
    """The backend that auto picks for a laminar endpoint, on that side."""
    return "iproute2" if ip_knows_laminar else "pyroute2"
