"""The kernel path manager's rules as a plain in-memory model, the hypothesis strategies of
endpoint states and requests, and what a request means, written from the module's
documentation (not from the planner): shared by the unit properties (against the model)
and the kernel ones (against Linux itself).

The model follows net/mptcp/pm_kernel.c of Linux 6.18 (mptcp_pm_nl_append_new_local_addr,
mptcp_pm_nl_set_flags): at most 8 endpoints (ERANGE, checked first), an id in use is EBUSY,
the same address (and port, where either has one) is EEXIST unless the endpoint there is
implicit, which a request without an id replaces (keeping its id); ids the kernel chooses
come from a cursor that wraps around; signal with fullmesh is EINVAL, and so is a port
without signal or with subflow; a port needs the address on the host (EADDRNOTAVAIL);
SET_FLAGS changes backup and fullmesh only, and fullmesh never on a signal or implicit
endpoint."""

import errno
import os

from hypothesis import strategies as st

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    Capabilities,
    KERNEL_IN_PLACE_FLAGS,
    MAX_ENDPOINTS,
    USER_FLAGS,
    make_endpoint,
    sort_flags,
)

LINKS = ("e1", "e2")
LOCAL_ADDRESSES = ("10.1.0.1", "10.2.0.1", "2001:db8:1::1")
# A few addresses and ids, so that requests often meet what the kernel holds.
ADDRESSES = LOCAL_ADDRESSES + ("10.1.0.7", "10.9.0.9", "2001:db8:9::9")
IDS = st.integers(min_value=1, max_value=12)
PORTS = st.sampled_from([80, 8080])
CAPABILITIES = {
    "pyroute2": Capabilities(USER_FLAGS, KERNEL_IN_PLACE_FLAGS, "pyroute2 (model)"),
    # iproute2 6.1: no laminar; 5.15: no fullmesh and no `endpoint change`.
    "iproute2-6.1": Capabilities(("signal", "subflow", "backup", "fullmesh"), KERNEL_IN_PLACE_FLAGS, "iproute2 6.1 (model)"),
    "iproute2-5.15": Capabilities(("signal", "subflow", "backup"), (), "iproute2 5.15 (model)"),
}


class Refused(MptcpError):
    """The model's refusal, with the errno the kernel gives."""

    def __init__(self, code, what):
        MptcpError.__init__(self, "%s: the kernel said %s (%s)" % (what, os.strerror(code), errno.errorcode[code]))
        self.code = code


class KernelModel:
    """A backend (the interface pm_backend and pm_ensure use) over the model's state.
    refuse_write: the index of the write to refuse with EIO (a step refused mid-batch)."""

    name = "model"

    def __init__(self, endpoints=(), caps="pyroute2", refuse_write=None):
        self.endpoints = [dict(e, flags=list(e["flags"])) for e in endpoints]
        self.caps = CAPABILITIES[caps]
        self.refuse_write = refuse_write
        self.writes = 0
        self.next_id = max([e["id"] for e in self.endpoints] + [1])
        self.limits = {"subflows": 2, "add_addr_accepted": 0}

    def close(self):
        pass

    def capabilities(self):
        return self.caps

    def links(self):
        return set(LINKS) | {"lo"}

    def read_endpoints(self):
        return [dict(e, flags=list(e["flags"])) for e in self.endpoints]

    def read_limits(self):
        return dict(self.limits)

    def _write(self, what):
        index, self.writes = self.writes, self.writes + 1
        if index == self.refuse_write:
            raise Refused(errno.EIO, what + " (refused on purpose)")

    def _same_key(self, current, endpoint):
        use_port = bool(current["port"] or endpoint["port"])
        return current["address"] == endpoint["address"] and (not use_port or current["port"] == endpoint["port"])

    def _free_id(self):
        used = set(e["id"] for e in self.endpoints)
        for start in (self.next_id, 1):
            for candidate in range(start, 256):
                if candidate not in used:
                    return candidate
        raise Refused(errno.EINVAL, "no free id")

    def add_endpoint(self, endpoint):
        what = "adding %s" % endpoint["address"]
        self._write(what)
        flags = list(endpoint["flags"])
        if "signal" in flags and "fullmesh" in flags or endpoint["port"] and ("signal" not in flags or "subflow" in flags):
            raise Refused(errno.EINVAL, what)
        if endpoint["dev"] and endpoint["dev"] not in self.links():
            raise Refused(errno.ENODEV, what)
        new = make_endpoint(endpoint["address"], endpoint["id"], endpoint["port"], endpoint["dev"], flags)
        if self.next_id == 255:
            self.next_id = 1
        if len(self.endpoints) >= MAX_ENDPOINTS:
            raise Refused(errno.ERANGE, what)
        if new["id"] is not None and any(e["id"] == new["id"] for e in self.endpoints):
            raise Refused(errno.EBUSY, what)
        for current in self.endpoints:
            if self._same_key(current, new):
                if "implicit" not in current["flags"]:
                    raise Refused(errno.EEXIST, what)
                if new["id"] is not None:
                    raise Refused(errno.EINVAL, what)
                new["id"] = current["id"]
                self.endpoints.remove(current)
                break
        if new["port"] and new["address"] not in LOCAL_ADDRESSES:
            raise Refused(errno.EADDRNOTAVAIL, what)
        if new["id"] is None:
            new["id"] = self._free_id()
        self.next_id = max(self.next_id, new["id"])
        self.endpoints.append(new)

    def _by_id(self, endpoint_id, what):
        for current in self.endpoints:
            if current["id"] == endpoint_id:
                return current
        raise Refused(errno.EINVAL, what)

    def delete_endpoint(self, endpoint):
        what = "deleting id %s" % endpoint["id"]
        self._write(what)
        self.endpoints.remove(self._by_id(endpoint["id"], what))

    def set_endpoint_flags(self, endpoint, flags):
        what = "changing id %s" % endpoint["id"]
        self._write(what)
        current = self._by_id(endpoint["id"], what)
        if "fullmesh" in flags and set(current["flags"]) & {"signal", "implicit"}:
            raise Refused(errno.EINVAL, what)
        kept = [name for name in current["flags"] if name not in KERNEL_IN_PLACE_FLAGS]
        current["flags"] = sort_flags(kept + [name for name in flags if name in KERNEL_IN_PLACE_FLAGS])

    def set_limits(self, limits):
        self._write("setting limits")
        self.limits = dict(limits)


# --- strategies ----------------------------------------------------------------------------

FLAG_SETS = st.lists(st.sampled_from(USER_FLAGS), unique=True, max_size=3).map(
    lambda flags: [name for name in flags if name != "fullmesh" or "signal" not in flags])


@st.composite
def kernel_states(draw, implicit=True, flags=FLAG_SETS, dev=st.sampled_from((None,) + LINKS)):
    """What a kernel may hold: up to 8 endpoints, ids and addresses (with ports) unique; a
    port only on a signal endpoint of a local address; implicit endpoints bare."""
    count = draw(st.integers(min_value=0, max_value=MAX_ENDPOINTS))
    ids = draw(st.lists(IDS, min_size=count, max_size=count, unique=True))
    endpoints, keys = [], set()
    for endpoint_id in ids:
        address = draw(st.sampled_from(ADDRESSES))
        if implicit and draw(st.integers(0, 6)) == 0:
            endpoint = make_endpoint(address, endpoint_id, flags=["implicit"])
        else:
            names = draw(flags)
            port = draw(PORTS) if names == ["signal"] and address in LOCAL_ADDRESSES and draw(st.booleans()) else None
            endpoint = make_endpoint(address, endpoint_id, port, draw(dev), names)
        key = (endpoint["address"], endpoint["port"] or 0)
        if key not in keys:
            keys.add(key)
            endpoints.append(endpoint)
    return endpoints


@st.composite
def requests(draw, current=(), flags=FLAG_SETS, dev=st.sampled_from((None,) + LINKS)):
    """(state, exclusive, the endpoints option), often naming addresses and ids `current`
    holds: mostly valid requests, some the module refuses (a duplicate, a port without
    signal, a ninth endpoint) and some the kernel does (a port on an address the host
    does not have). An empty list comes with exclusive (it then removes every endpoint)."""
    state = draw(st.sampled_from(["present", "present", "absent"]))
    addresses = st.sampled_from(ADDRESSES)
    ids = IDS
    if current:
        addresses = st.one_of(addresses, st.sampled_from([e["address"] for e in current]))
        ids = st.one_of(IDS, st.sampled_from([e["id"] for e in current]))
    specs = []
    for _index in range(draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4]))):
        spec = {}
        by_id = state == "absent" and draw(st.booleans())
        if not by_id:
            spec["address"] = draw(addresses)
        if by_id or draw(st.integers(0, 3)) == 0:
            spec["id"] = draw(ids)
        if state == "present" and draw(st.integers(0, 3)):
            spec["flags"] = draw(flags)
        if state == "present" and draw(st.booleans()):
            spec["dev"] = draw(dev)
        if not by_id and draw(st.integers(0, 4)) == 0:
            spec["port"] = draw(PORTS)
            if draw(st.integers(0, 3)):  # mostly with the signal flag a port needs
                spec["flags"] = sort_flags([name for name in spec.get("flags") or [] if name not in ("fullmesh", "subflow")] + ["signal"])
        specs.append(dict((key, value) for key, value in spec.items() if value is not None))
    exclusive = state == "present" and (not specs or draw(st.booleans()))
    return state, exclusive, specs


@st.composite
def scenarios(draw, implicit=True, flags=FLAG_SETS, dev=st.sampled_from((None,) + LINKS)):
    """(what the kernel holds, a request about it)."""
    current = draw(kernel_states(implicit, flags, dev))
    return current, draw(requests(current, flags, dev))


# --- what a request means, from the module's documentation ----------------------------------

ANY_ID = "any"


def _matches_absent(spec, endpoint):
    """state=absent: by address (and port when given) or by id; given together, all must match."""
    return ((spec["address"] is None or endpoint["address"] == spec["address"])
            and (spec["port"] is None or (endpoint["port"] or 0) == spec["port"])
            and (spec["id"] is None or endpoint["id"] == spec["id"]))


def expected_state(current, wanted, state, exclusive):
    """{(address, port): (id or ANY_ID, dev, flags)} the kernel must hold after the run.
    wanted: the validated specs (pm_model.validate_endpoints)."""
    if state == "absent":
        kept = [e for e in current if not any(_matches_absent(spec, e) for spec in wanted)]
        return dict(((e["address"], e["port"] or 0), (e["id"], e["dev"], e["flags"])) for e in kept)
    by_key = dict(((e["address"], e["port"] or 0), e) for e in current)
    expected = {}
    for spec in wanted:
        key = (spec["address"], spec["port"] or 0)
        found = by_key.pop(key, None)
        if found is None:
            expected[key] = (spec["id"] or ANY_ID, spec["dev"], sort_flags(spec["flags"] or []))
            continue
        flags = spec["flags"] if spec["flags"] is not None else [f for f in found["flags"] if f != "implicit"]
        expected[key] = (spec["id"] or found["id"], spec["dev"] or found["dev"], sort_flags(flags))
    for key, endpoint in by_key.items():
        if not exclusive or "implicit" in endpoint["flags"]:
            expected[key] = (endpoint["id"], endpoint["dev"], endpoint["flags"])
    return expected


def held(endpoints):
    """The kernel's endpoints in expected_state's form."""
    return dict(((e["address"], e["port"] or 0), (e["id"], e["dev"], list(e["flags"]))) for e in endpoints)


def reaches(endpoints, expected):
    """Whether the endpoints are exactly the expected ones (an id the kernel chose: any)."""
    found = held(endpoints)
    if set(found) != set(expected):
        return False
    for key, (endpoint_id, dev, flags) in expected.items():
        got_id, got_dev, got_flags = found[key]
        if got_dev != dev or got_flags != flags or endpoint_id not in (ANY_ID, got_id):
            return False
    return True
