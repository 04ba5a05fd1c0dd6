"""The lab fixtures: `lab`, a lab of this test session's own, and `own_lab`, one of a test
module's own, each always torn down however the tests end. The helpers they and the tests
use (Lab, _lab, free_subnets, ...) are in lab_session.py, which the tests import."""

import secrets

import pytest

from lab_session import DISTROS, _lab, _lab_up


@pytest.fixture(scope="session")
def lab():
    name = "nmt-%s" % secrets.token_hex(3)
    try:
        yield _lab_up(name)
    finally:
        _lab(name, "down", check=False)


@pytest.fixture(scope="module")
def own_lab(request):
    """A lab of the test module's own, for tests that change a host through and through
    (the role, restarts, systemd units): named after the module's LAB_PREFIX, on its
    LAB_SUBNETS where they are free, with one host of each of its LAB_DISTROS (default:
    Debian 12 and 13), torn down after its last test however it ends."""
    name = "%s-%s" % (getattr(request.module, "LAB_PREFIX", "own"), secrets.token_hex(3))
    try:
        yield _lab_up(name, getattr(request.module, "LAB_SUBNETS", ()),
                      getattr(request.module, "LAB_DISTROS", DISTROS))
    finally:
        _lab(name, "down", check=False)
