# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's connection: containers.podman.podman, with pipelining.

containers.podman.podman declares it cannot pipeline, because it runs `podman exec`
without --interactive, so the module sent on stdin never arrives. Without pipelining
every task costs six podman commands (mount, `echo ~`, mkdir, chmod, python, rm), each a
podman process on the control node and a runc exec in the container. With
--interactive the module goes through stdin like over SSH with pipelining, and a task
costs one `podman exec`: the lab then behaves like the fleets the collection is for. The
container is mounted only when a file is copied (put_file, fetch_file), not for every
task. Lab only: not part of the collection (ansible.cfg points connection_plugins here)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    author: mptcp.linux contributors (@mptcp-linux)
    name: podman_pipelining
    short_description: containers.podman.podman with pipelining (the lab's connection)
    description:
        - Run commands in, and put/fetch files to, an existing podman container; modules go
          through stdin (pipelining) when pipelining is enabled.
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User (name or UID) that runs commands in the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to pass to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman_pipelining"
    has_pipelining = True

    def _connect(self):
        # No `podman mount` here: only file copies need the mount point (_mount).
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _mount(self):
        if self._mount_point is None:
            PodmanConnection._connect(self)

    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return PodmanConnection.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "--interactive"] + (["--user", self.user] if self.user else [])
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount()
        PodmanConnection.put_file(self, in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount()
        PodmanConnection.fetch_file(self, in_path, out_path)
