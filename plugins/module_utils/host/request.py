# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_host's parameters, validated before the host is read: the role's variables
(without their mptcp_ prefix) checked with every module's own rules, all problems in one
error, each naming the role's variable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host.endpoints import path_manager_endpoints, source_routes
from ansible_collections.mptcp.linux.plugins.module_utils.host.variables import role_problems
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import service_unit
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.sockets import is_socket

# What the role calls each option (its variables), so that an error names what the user set.
ROLE_VARIABLES = ("limits", "endpoints", "nm_profiles", "mptcpize_services", "go_services_tcp_only",
                  "routing_table_range", "routing_priority_range")
MISSING_CHOICES = ("report", "fail")


class HostRequest:
    def __init__(self, params):
        problems = role_problems(dict(("mptcp_" + name, params[name]) for name in ROLE_VARIABLES))
        if problems:
            raise ValidationError(" ".join(problems))
        self.state = params["state"]
        self.sysctl = params["sysctl"] or {}
        self.sysctl_path = params["sysctl_path"]
        self.limits = params["limits"] or {}
        self.endpoints = params["endpoints"] or []
        self.exclusive = params["endpoints_exclusive"]
        self.routes = source_routes(self.endpoints)
        self.pm_endpoints = path_manager_endpoints(self.endpoints)
        self.routing_via = params["routing_via"]
        self.table_range = params["routing_table_range"]
        self.priority_range = params["routing_priority_range"]
        self.rp_filter = params["rp_filter"]
        self.other_managers = params.get("other_managers") or "refuse"
        self.nm_profiles = params["nm_profiles"] or []
        self.persist = params["persist"]
        # The units moved onto MPTCP: socket units by SocketProtocol=mptcp, the others by
        # the preload; and the Go services kept on TCP.
        self.services = [service_unit(name) for name in params["mptcpize_services"] or []]
        self.socket_units = [unit for unit in self.services if is_socket(unit)]
        self.preload_services = [unit for unit in self.services if not is_socket(unit)]
        self.go_tcp_only = [service_unit(name) for name in params["go_services_tcp_only"] or []]
        self.unit_name = params["unit_name"]
        self.dropin_name = params["dropin_name"]
        self.unit_dir = params["unit_dir"]
        self.library_dirs = params["library_dirs"]
        self.missing_packages = params["missing_packages"]
        self.host_name = params["host_name"] or "this host"
        self.rejoin = params["rejoin"]
        self.rejoin_program = params["rejoin_program"]
        self.rejoin_config = params["rejoin_config"]
        if self.state == "present" and self.rejoin and not self.pm_endpoints:
            raise ValidationError("mptcp_rejoin=true adds endpoints again when their path comes back, and "
                                  "mptcp_endpoints lists none: list them, or leave mptcp_rejoin false")

    @property
    def persists_path_manager(self):
        """Whether the boot unit is wanted: something of the path manager to set at boot."""
        return self.persist and bool(self.limits or self.endpoints or self.exclusive)

    @property
    def sets_path_manager(self):
        return bool(self.limits or self.endpoints or self.exclusive)

    @property
    def endpoint_devices(self):
        return [e["dev"] for e in self.endpoints if e.get("dev")]

    def library_allowed(self, library):
        """Only a library the distribution installed is preloaded: under library_dirs, no dot segments."""
        pattern = "^(%s)/[A-Za-z0-9_.+/-]+$" % "|".join(re.escape(d) for d in self.library_dirs)
        return bool(library and re.match(pattern, library) and "/../" not in library and "/./" not in library)
