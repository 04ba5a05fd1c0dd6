# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role and the other managers of the same endpoints and limits (mptcp_info's
`managers`), as the README's "Other managers" defines it:

- mptcpd running or enabled with a plugin that writes endpoints or limits (addr_adv), where
  the role is asked to set them: refused (mptcp_other_managers: refuse, the default), or
  warned of and done anyway (warn). Both would write the same endpoints and limits, each
  undoing the other (addr_adv sets the limits when it starts and on every address change).
- NetworkManager setting an endpoint for an address of mptcp_endpoints (its profile's
  mptcp-flags are not disabled, and mptcp_nm_profiles does not disable it): warned of.
- A sysctl file that wins at boot over the role's: warned of by the sysctl part
  (sysctl/precedence.py), naming the file and its value."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.info.mptcpd import describe as describe_mptcpd

CHOICES = ("refuse", "warn")
MPTCPD_CONFLICT = (
    "%s: %s writes the path manager's %s itself (addr_adv adds an endpoint for every local address and sets the "
    "limits when it starts and whenever an address comes or goes), and the role is asked to set its %s (%s): each "
    "would undo the other.")
MPTCPD_REFUSED = (
    " Let one of them manage the path manager: stop and disable mptcpd (systemctl disable --now %s), or "
    "take addr_adv out of load-plugins in /etc/mptcpd/mptcpd.conf, or leave mptcp_endpoints and mptcp_limits empty on "
    "this host; mptcp_other_managers: warn sets them anyway.")
MPTCPD_WARNED = " mptcp_other_managers is warn: the role sets them anyway, and mptcpd may change them again."
NM_OVERLAP = (
    "%s: NetworkManager's profile %s sets its own endpoint for %s on %s (flags %s), and mptcp_endpoints lists %s "
    "(flags %s): NetworkManager sets it again whenever the profile comes up or is reapplied, and removes it when the "
    "profile goes down. Let one of them own the address: list %s in mptcp_nm_profiles with flags [disabled], or "
    "take %s out of mptcp_endpoints.")


def _wants(request):
    """What the request sets of what mptcpd may write: {'endpoints': variable, 'limits': variable}."""
    wants = {}
    if request.endpoints or request.exclusive:
        wants["endpoints"] = "mptcp_endpoints_exclusive" if request.exclusive and not request.endpoints \
            else "mptcp_endpoints"
    if request.limits:
        wants["limits"] = "mptcp_limits"
    return wants


def mptcpd_conflict(request, managers):
    """The message of mptcpd writing what the request sets, or None."""
    mptcpd = (managers or {}).get("mptcpd") or {}
    if request.state != "present" or not (mptcpd.get("running") or mptcpd.get("enabled")):
        return None
    wants = _wants(request)
    both = [what for what in ("endpoints", "limits") if what in wants and what in (mptcpd.get("writes") or [])]
    if not both:
        return None
    return MPTCPD_CONFLICT % (request.host_name, describe_mptcpd(mptcpd), " and ".join(mptcpd["writes"]),
                              " and ".join(both), ", ".join(wants[what] for what in both))


def _disabled_profiles(request):
    names = set()
    for profile in request.nm_profiles:
        if "disabled" in (profile.get("flags") or []):
            names.add(profile["name"])
    return names


def _flags_text(flags):
    return ",".join(flags) if flags else "none"


def nm_overlaps(request, managers):
    """The warnings of NetworkManager setting endpoints of addresses mptcp_endpoints lists."""
    if request.state != "present":
        return []
    nm_made = ((managers or {}).get("networkmanager") or {}).get("endpoints") or []
    disabled = _disabled_profiles(request)
    warnings = []
    for endpoint in request.endpoints:
        for made in nm_made:
            if made["address"] != endpoint["address"] or made["profile"] in disabled or made["uuid"] in disabled:
                continue
            warnings.append(NM_OVERLAP % (
                request.host_name, made["profile"], made["address"], made["dev"], _flags_text(made["flags"]),
                endpoint["address"], _flags_text(endpoint.get("flags")), made["profile"], endpoint["address"]))
    return warnings


def other_managers(request, managers):
    """(problems, warnings) of the other managers for this request."""
    problems, warnings = [], []
    conflict = mptcpd_conflict(request, managers)
    if conflict and request.other_managers == "refuse":
        unit = ((managers or {}).get("mptcpd") or {}).get("unit") or "mptcp.service"
        problems.append(conflict + MPTCPD_REFUSED % unit)
    elif conflict:
        warnings.append(conflict + MPTCPD_WARNED)
    warnings += nm_overlaps(request, managers)
    return problems, warnings
