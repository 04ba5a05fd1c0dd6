# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's connection: containers.podman.podman with pipelining.

Before containers.podman 1.21 (ansible 11 carried 1.16) its connection declared that it
could not pipeline: it ran `podman exec` without --interactive, so a module sent on stdin
never arrived, and every task cost six podman commands (mount, `echo ~`, mkdir, chmod,
python, rm). This plugin then ran `podman exec --interactive` itself. containers.podman
1.21 (ansible 14, which requirements/control.txt pins) pipelines on its own: `podman exec
-i` when there is input, the container mounted only to copy a file. So this is now its
connection under the lab's name, with pipelining declared, and its options repeated
below (Ansible reads a plugin's options from its own DOCUMENTATION). Lab only: not part
of the collection (ansible.cfg points connection_plugins here)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    author: mptcp.linux contributors (@mptcp-linux)
    name: podman_pipelining
    short_description: containers.podman.podman with pipelining (the lab's connection)
    description:
        - Run commands in, and put/fetch files to, an existing podman container; modules go
          through stdin (pipelining) when pipelining is enabled.
        - The options are containers.podman.podman's (containers.podman 1.21).
    options:
      remote_addr:
        description:
          - The ID or name of the container you want to access.
        default: inventory_hostname
        vars:
          - name: inventory_hostname
          - name: ansible_host
          - name: ansible_podman_host
        env:
          - name: ANSIBLE_PODMAN_HOST
        ini:
          - section: defaults
            key: remote_addr
      remote_user:
        description:
          - User specified via name or UID which is used to execute commands inside the container.
          - If you specify the user via UID, you must set C(ANSIBLE_REMOTE_TMP) to a path that exists
            inside the container and is writable by Ansible.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description:
          - Extra arguments to pass to the podman command line.
        default: ''
        type: str
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description:
          - Executable for podman command.
        default: podman
        type: str
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
        ini:
          - section: defaults
            key: podman_executable
      container_timeout:
        description:
          - Timeout in seconds for container operations. 0 means no timeout.
        default: 0
        type: int
        vars:
          - name: ansible_podman_timeout
        env:
          - name: ANSIBLE_PODMAN_TIMEOUT
        ini:
          - section: defaults
            key: podman_timeout
      mount_detection:
        description:
          - Enable automatic detection and use of container mount points for file operations.
        default: true
        type: bool
        vars:
          - name: ansible_podman_mount_detection
        env:
          - name: ANSIBLE_PODMAN_MOUNT_DETECTION
      ignore_mount_errors:
        description:
          - Continue with copy operations even if container mounting fails.
        default: true
        type: bool
        vars:
          - name: ansible_podman_ignore_mount_errors
      extra_env_vars:
        description:
          - Additional environment variables to set in the container.
        default: {}
        type: dict
        vars:
          - name: ansible_podman_extra_env
      privilege_escalation_method:
        description:
          - Method to use for privilege escalation inside container.
        default: 'auto'
        choices: ['auto', 'sudo', 'su', 'none']
        type: str
        vars:
          - name: ansible_podman_privilege_escalation
      working_directory:
        description:
          - Working directory for commands executed in the container.
        type: str
        vars:
          - name: ansible_podman_working_directory
"""

from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman_pipelining"
    has_pipelining = True
