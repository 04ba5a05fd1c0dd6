"""A path-manager backend that fails the way a live host can between a module's plan and
its steps, for the kernel tests of a batch undone mid-way (test_faults.py,
test_mptcp_path_manager.py)."""


class RemovesALink:
    """A backend that deletes `link` just before its first endpoint write (limits set
    before it go through): the interface is gone between the plan (which checked it) and
    the step that needs it."""

    def __init__(self, backend, ns, link):
        self.backend, self.ns, self.link = backend, ns, link
        for name in ("add_endpoint", "delete_endpoint", "set_endpoint_flags"):
            setattr(self, name, self._first_write(getattr(backend, name)))

    def _first_write(self, method):
        def write(*args):
            if self.link:
                self.ns.ip("link", "delete", self.link)
                self.link = None
            return method(*args)
        return write

    def __getattr__(self, name):
        return getattr(self.backend, name)
