# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role makes of its endpoints for routing: the source routes of the endpoints
that name a gateway, the endpoints as the path-manager modules take them (without the
routing keys), and the reverse-path filter of the interfaces that carry endpoints
(the logic is module_utils/host/endpoints.py, which mptcp_host uses too;
documented in source_routes.yml, path_manager_endpoints.yml, rp_filter_settings.yml and
strict_rp_filter.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.host import endpoints as role_endpoints


def _filter(function):
    def call(*args):
        try:
            return function(*args)
        except ValidationError as exc:
            raise AnsibleFilterError("%s" % exc)
    return call


source_routes = _filter(role_endpoints.source_routes)
path_manager_endpoints = _filter(role_endpoints.path_manager_endpoints)
rp_filter_settings = _filter(role_endpoints.rp_filter_settings)
strict_rp_filter = _filter(role_endpoints.strict_rp_filter)


class FilterModule(object):
    def filters(self):
        return {"source_routes": source_routes, "path_manager_endpoints": path_manager_endpoints,
                "rp_filter_settings": rp_filter_settings, "strict_rp_filter": strict_rp_filter}
