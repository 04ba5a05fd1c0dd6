"""HostLock: runs on one host take turns on a namespace or a directory; one that cannot
get its turn gives up with a clear message, having changed nothing."""

import itertools

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host_lock import HostLock


def impatient(path, shared=False):
    """A lock that gives up at once: its clock jumps past the wait at the first look."""
    ticks = itertools.count(0, 1000)
    return HostLock(path, "the thing", shared=shared, wait=10, clock=lambda: next(ticks), sleep=lambda _s: None)


@pytest.mark.parametrize("path", ["/proc/self/ns/net", None])
def test_a_second_run_waits_for_the_first_and_then_gets_its_turn(tmp_path, path):
    path = path or str(tmp_path)
    with HostLock(path, "the thing"):
        with pytest.raises(MptcpError) as caught:
            with impatient(path):
                pass
        assert str(caught.value) == ("another run has been changing the thing for 10 s (it holds the lock on %s); "
                                     "nothing was changed by this one" % path)
        with pytest.raises(MptcpError):
            with impatient(path, shared=True):
                pass
    with impatient(path):
        pass


def test_check_mode_runs_share_their_lock(tmp_path):
    with HostLock(str(tmp_path), "the thing", shared=True):
        with impatient(str(tmp_path), shared=True):
            pass
        with pytest.raises(MptcpError):
            with impatient(str(tmp_path)):
                pass


def test_a_path_that_cannot_be_opened_fails_clearly(tmp_path):
    with pytest.raises(MptcpError) as caught:
        with HostLock(str(tmp_path / "gone"), "the thing"):
            pass
    assert str(caught.value) == "cannot open %s to lock the thing: No such file or directory" % (tmp_path / "gone")
