# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One unit file and the drop-ins of one name under /etc/systemd/system: read what is
there, plan (pure: found state and wanted state in, file changes and diff out), apply.
One module call does what took a template, a service, a find, a directory and a template
per service before."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import stat

from ansible_collections.mptcp.linux.plugins.module_utils.atomic_file import FILE_MODE, commit, read_text, remove, stage
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError

DIR_MODE = 0o755
UNIT_TYPES = ("service", "socket", "device", "mount", "automount", "swap", "target", "path",
              "timer", "slice", "scope")
# systemd.unit(5): a name, an optional @instance, a type suffix.
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(%s)$" % "|".join(UNIT_TYPES))
_DROPIN_NAME = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*\.conf$")


def service_unit(name):
    """A service as the role names it -> its unit name: "nginx" means nginx.service."""
    return name if "." in name else name + ".service"


def check_unit_name(name, what):
    if not _UNIT_NAME.match(name or "") or len(name) > 255:
        raise ValidationError("%s=%r: not a unit name like mptcp-pm.service (a name and one of "
                              "the suffixes .%s)" % (what, name, ", .".join(UNIT_TYPES)))


def check_dropin_name(name):
    if not _DROPIN_NAME.match(name or ""):
        raise ValidationError("dropin.name=%r: must be a file name ending in .conf, like "
                              "50-mptcp.conf (systemd reads only those)" % (name,))


class Wanted:
    """What the host must have. unit_content None: the unit is disabled and removed.
    dropin_name None: drop-ins are left alone; else the drop-in is written for exactly the
    services listed and the units of dropin_contents, and removed from every other unit.
    dropin_contents: {unit: text} for units whose drop-in differs from dropin_content (a
    socket unit's [Socket] section beside services' [Service] ones)."""

    def __init__(self, unit_name=None, unit_content=None, unit_enabled=True,
                 dropin_name=None, dropin_content=None, services=(), dropin_contents=None):
        self.unit_name = unit_name
        self.unit_content = unit_content
        self.unit_enabled = unit_enabled
        self.dropin_name = dropin_name
        self.dropin_content = dropin_content
        self.dropin_contents = dict(dropin_contents or {})
        self.services = sorted(set(services) | set(self.dropin_contents))

    def dropin_text(self, service):
        return self.dropin_contents.get(service, self.dropin_content)


def validate(wanted):
    """Every input checked before the host is looked at."""
    if wanted.unit_name is None and wanted.dropin_name is None:
        raise ValidationError("give unit, dropin or both")
    if wanted.unit_name is not None:
        check_unit_name(wanted.unit_name, "unit.name")
    if wanted.dropin_name is not None:
        check_dropin_name(wanted.dropin_name)
        for service in wanted.services:
            check_unit_name(service, "dropin.contents" if service in wanted.dropin_contents else "dropin.services")
        for service, text in sorted(wanted.dropin_contents.items()):
            if not isinstance(text, str):
                raise ValidationError("dropin.contents[%r]: the drop-in's text must be a string, got %r" % (service, text))
        if any(wanted.dropin_text(service) is None for service in wanted.services):
            raise ValidationError("dropin.content is required when dropin.services lists units")


class Found:
    """What the host has: {path: FileState} for the unit file and every drop-in of the name,
    {directory: (mode, uid, gid)} for the listed services' drop-in directories, and whether
    the unit is enabled."""

    def __init__(self, files=None, dirs=None, unit_enabled=False):
        self.files = files or {}
        self.dirs = dirs or {}
        self.unit_enabled = unit_enabled


class FileState:
    def __init__(self, text, mode=FILE_MODE, uid=0, gid=0):
        self.text = text
        self.mode = mode
        self.uid = uid
        self.gid = gid

    def attributes(self):
        return "mode %04o, owner %d:%d" % (self.mode, self.uid, self.gid)


def unit_path(unit_dir, name):
    return os.path.join(unit_dir, name)


def dropin_path(unit_dir, service, name):
    return os.path.join(unit_dir, service + ".d", name)


def service_of(path):
    """The unit a drop-in path belongs to: /etc/systemd/system/X.service.d/N -> X.service."""
    return os.path.basename(os.path.dirname(path))[:-len(".d")]


class Plan:
    def __init__(self):
        self.writes = []        # (path, text)
        self.fixes = []         # paths whose text is right but mode/owner are not
        self.removals = []      # paths
        self.dirs = []          # directories to create or to set to 0755 root:root
        self.enable = False
        self.disable = False
        self.services_changed = []
        self.diff = []

    @property
    def files_changed(self):
        return sorted(set([path for path, _text in self.writes] + self.fixes + self.removals))

    @property
    def changed(self):
        return bool(self.files_changed or self.dirs or self.enable or self.disable)


def _file_diff(path, before, after):
    return {"before_header": path, "after_header": path,
            "before": before if before is not None else "",
            "after": after if after is not None else ""}


def _plan_file(plan, path, found, text):
    """One file that must hold `text`, root-owned 0644."""
    if found is None or found.text != text:
        plan.writes.append((path, text))
        plan.diff.append(_file_diff(path, found.text if found else None, text))
    elif (found.mode, found.uid, found.gid) != (FILE_MODE, 0, 0):
        plan.fixes.append(path)
        plan.diff.append(_file_diff(path + " (attributes)", found.attributes() + "\n",
                                    FileState(text).attributes() + "\n"))


def plan_changes(unit_dir, wanted, found):
    plan = Plan()
    if wanted.unit_name is not None:
        path = unit_path(unit_dir, wanted.unit_name)
        current = found.files.get(path)
        if wanted.unit_content is not None:
            _plan_file(plan, path, current, wanted.unit_content)
            enabled_before = found.unit_enabled if current is not None else False
            if wanted.unit_enabled and not enabled_before:
                plan.enable = True
            elif not wanted.unit_enabled and enabled_before:
                plan.disable = True
        elif current is not None:
            plan.disable = found.unit_enabled
            plan.removals.append(path)
            plan.diff.append(_file_diff(path, current.text, None))
        if plan.enable or plan.disable:
            word = {True: "enabled\n", False: "disabled\n"}
            plan.diff.append({"before_header": "systemctl is-enabled %s" % wanted.unit_name,
                              "after_header": "systemctl is-enabled %s" % wanted.unit_name,
                              "before": word[not plan.enable],
                              "after": word[plan.enable]})

    if wanted.dropin_name is not None:
        listed = set(dropin_path(unit_dir, service, wanted.dropin_name) for service in wanted.services)
        for service in wanted.services:
            directory = os.path.dirname(dropin_path(unit_dir, service, wanted.dropin_name))
            attributes = found.dirs.get(directory)
            if attributes != (DIR_MODE, 0, 0):
                plan.dirs.append(directory)
                if attributes is not None:
                    plan.diff.append(_file_diff(
                        directory + " (attributes)",
                        "mode %04o, owner %d:%d\n" % attributes, "mode 0755, owner 0:0\n"))
            path = dropin_path(unit_dir, service, wanted.dropin_name)
            before = len(plan.writes) + len(plan.fixes)
            _plan_file(plan, path, found.files.get(path), wanted.dropin_text(service))
            if len(plan.writes) + len(plan.fixes) > before:
                plan.services_changed.append(service)
        unit_file = unit_path(unit_dir, wanted.unit_name or "")
        for path in sorted(found.files):
            if path != unit_file and path not in listed:
                plan.removals.append(path)
                plan.diff.append(_file_diff(path, found.files[path].text, None))
                plan.services_changed.append(service_of(path))
    plan.services_changed = sorted(set(plan.services_changed))
    return plan


# --- the host ------------------------------------------------------------------------

def _file_state(path):
    text = read_text(path)
    if text is None:
        return None
    info = os.lstat(path)
    return FileState(text, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def read_found(unit_dir, wanted, is_enabled):
    """The files the plan looks at, read from unit_dir; is_enabled(name) -> bool asks
    systemd only when the unit file exists."""
    found = Found()
    if wanted.unit_name is not None:
        path = unit_path(unit_dir, wanted.unit_name)
        state = _file_state(path)
        if state is not None:
            found.files[path] = state
            found.unit_enabled = is_enabled(wanted.unit_name)
    if wanted.dropin_name is not None:
        pattern = os.path.join(glob.escape(unit_dir), "*.d", glob.escape(wanted.dropin_name))
        for path in glob.glob(pattern):
            if os.path.isfile(path) or os.path.islink(path):
                found.files[path] = _file_state(path)
        for service in wanted.services:
            directory = os.path.dirname(dropin_path(unit_dir, service, wanted.dropin_name))
            if os.path.isdir(directory):
                info = os.stat(directory)
                found.dirs[directory] = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return found


class Systemctl:
    """systemctl through run(argv) -> (rc, stdout, stderr)."""

    def __init__(self, run, path):
        self.run = run
        self.path = path

    def is_enabled(self, name):
        _rc, out, _err = self.run([self.path, "is-enabled", name])
        return out.strip() == "enabled"

    def is_active(self, name):
        _rc, out, _err = self.run([self.path, "is-active", name])
        return out.strip() in ("active", "reloading", "activating")

    def triggers(self, name):
        """The units `name` activates (a socket unit's service): `systemctl show -p Triggers`."""
        rc, out, _err = self.run([self.path, "show", "--property=Triggers", "--value", name])
        return out.split() if rc == 0 else []

    def call(self, *args):
        rc, out, err = self.run([self.path] + list(args))
        if rc != 0:
            raise MptcpError("systemctl %s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()))


def apply_plan(host, plan, unit_name, systemctl, daemon_reload=True):
    """Disable before removing, write and remove files, reload systemd once when a file
    changed, enable last (systemctl enable reads the unit file from disk)."""
    if plan.disable:
        systemctl.call("disable", unit_name)
    for directory in plan.dirs:
        try:
            if not os.path.isdir(directory):
                os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)
            if os.geteuid() == 0:
                os.chown(directory, 0, 0)
        except (IOError, OSError) as error:
            raise MptcpError("cannot create %s: %s" % (directory, os.strerror(error.errno)))
    for path, text in plan.writes:
        commit(host, stage(path, text), path)
    for path in plan.fixes:
        try:
            os.chmod(path, FILE_MODE)
            if os.geteuid() == 0:
                os.chown(path, 0, 0)
        except (IOError, OSError) as error:
            raise MptcpError("cannot make %s root-owned 0644: %s" % (path, os.strerror(error.errno)))
    for path in plan.removals:
        remove(path)
    if daemon_reload and (plan.writes or plan.removals):
        systemctl.call("daemon-reload")
    if plan.enable:
        systemctl.call("enable", unit_name)
