"""The lab: multi-homed Debian test hosts in podman containers on this machine.

    lab.py build                 build the host images that are missing
    lab.py up [--host NAME=DISTRO[:GROUP,...]]... [--subnet CIDR --subnet CIDR] [--mgmt-subnet CIDR]
    lab.py up --topology routed-single-homed [--topology routed-multi-homed] [--subnet CIDR]... [--mgmt-subnet CIDR]
    lab.py down                  remove every container and network of the lab
    lab.py check-subnets CIDR... say whether the lab may use these subnets

Each host boots systemd as PID 1 with NetworkManager running, has NET_ADMIN and, in the
`direct` topology (the default), one interface on each of the lab's two `--internal`
networks (eth0, eth1), and gets a NetworkManager keyfile profile per interface (lab-eth0,
lab-eth1). The routed topologies put routers (hosts with forwarding on) between clients and
servers, with one default route per host (ROUTED_TOPOLOGIES). In every topology a further
`--internal` network, the management network (mgmt0, profile lab-mgmt0: no default route,
no MPTCP endpoint), carries SSH: `up` makes a key pair in .lab/NAME/, authorizes it for
the hosts' user `lab` (NOPASSWD sudo) and writes an Ansible inventory that reaches the
hosts over SSH with become to .lab/NAME/inventory.yml (and one over `podman exec` as root
to .lab/NAME/inventory-podman.yml). Everything carries the label mptcp-lab=NAME, which
is what `down` removes. Read ../shared/docs/lab.md (or lab/README.md) before changing
addresses: a subnet that overlaps a route cuts this machine off its package registries.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO_DIR = LAB_DIR.parent
STATE_DIR = Path(os.environ.get("LAB_STATE_DIR", REPO_DIR / ".lab"))
BUILD_DIR = STATE_DIR / "build"
CONTAINERS_CONF = LAB_DIR / "containers.conf"
IMAGE_SETUP = LAB_DIR / "image-setup.sh"

DISTROS = {"debian11": "bullseye", "debian12": "bookworm", "debian13": "trixie"}
DEFAULT_HOSTS = ["mptcp-server=debian12:mptcp_servers", "mptcp-client=debian13:mptcp_clients"]
# RFC 2544's benchmarking range: never a real network's, so never one of our routes.
DEFAULT_SUBNETS = ["198.18.1.0/24", "198.18.2.0/24"]
DEFAULT_MGMT_SUBNET = "198.18.9.0/24"  # the routed topologies take 198.18.3-8 by default
FIRST_HOST_OCTET = 10
INTERFACES = ("eth0", "eth1")
BOOT_TIMEOUT = 180
# SSH: the management interface and profile, and the user Ansible logs in as
# (image-setup.sh makes it, with NOPASSWD sudo).
MGMT_IFACE = "mgmt0"
LAB_USER = "lab"
SSH_TIMEOUT = 60

# Lab topologies with routers (lab/README.md draws them). Each network is a /24 of its own;
# a host's address on a network is .OCTET (.1 is this machine's bridge, never a gateway).
# A host's interfaces are [iface, network, gateway]: the gateway is the router whose
# address on that network the host would use for that path (lab_gateways in the
# inventory), None where the path needs none; "default" names the one interface whose
# gateway is the host's default route: every other path has only its connected subnet, as
# on most real hosts. Routers forward (net.ipv4.ip_forward=1) and send no redirects, so
# packets take the paths drawn; "routes" are their static routes [network, via router].
ROUTED_TOPOLOGIES = {
    # The server has one address behind two routers; the client has two uplinks and one
    # default route (via r1): without source routing, the join from the client's eth1 finds
    # no way to the server.
    "routed-single-homed": {
        "short": "sh",
        "networks": ["a", "b", "s"],
        "client_group": "routed1_clients",
        "server_group": "routed1_servers",
        "router_group": "routed1_routers",
        "hosts": {
            "client": {"distro": "debian13", "octet": 20, "default": "eth0",
                       "interfaces": [["eth0", "a", "r1"], ["eth1", "b", "r2"]]},
            "server": {"distro": "debian12", "octet": 10, "default": "eth0",
                       "interfaces": [["eth0", "s", "r1"]]},
            "r1": {"distro": "debian12", "octet": 2, "router": True,
                   "interfaces": [["eth0", "a", None], ["eth1", "s", None]], "routes": [["b", "r2"]]},
            "r2": {"distro": "debian12", "octet": 3, "router": True,
                   "interfaces": [["eth0", "b", None], ["eth1", "s", None]], "routes": [["a", "r1"]]},
        },
    },
    # The server has two addresses: eth0 on net 1, shared with the client's eth0, and eth1
    # on net 3, which only r3 reaches (from net 2, the client's eth1). Both hosts' default
    # route goes to r4 on net 1, the way to the rest of the world, which knows net 1 only:
    # without source routing the client's join from eth1 to the server's eth1 leaves by
    # eth0, and the server's replies from its eth1 address go to r4, which drops them.
    "routed-multi-homed": {
        "short": "mh",
        "networks": ["n1", "n2", "n3"],
        "client_group": "routed2_clients",
        "server_group": "routed2_servers",
        "router_group": "routed2_routers",
        "hosts": {
            "client": {"distro": "debian12", "octet": 20, "default": "eth0",
                       "interfaces": [["eth0", "n1", "r4"], ["eth1", "n2", "r3"]]},
            "server": {"distro": "debian13", "octet": 10, "default": "eth0",
                       "interfaces": [["eth0", "n1", "r4"], ["eth1", "n3", "r3"]]},
            "r3": {"distro": "debian12", "octet": 4, "router": True,
                   "interfaces": [["eth0", "n2", None], ["eth1", "n3", None]]},
            "r4": {"distro": "debian12", "octet": 5, "router": True,
                   "interfaces": [["eth0", "n1", None]]},
        },
    },
}
TOPOLOGIES = ["direct"] + sorted(ROUTED_TOPOLOGIES)
# Where no --subnet is given: clear of the demo lab's, the test fixtures' and the molecule
# scenarios' subnets.
DEFAULT_ROUTED_SUBNETS = {"routed-single-homed": ["198.18.3.0/24", "198.18.4.0/24", "198.18.5.0/24"],
                          "routed-multi-homed": ["198.18.6.0/24", "198.18.7.0/24", "198.18.8.0/24"]}
ROUTER_SYSCTL = "\n".join([
    "# A lab router (lab/lab.py): forwards, and sends no redirects, so that packets take",
    "# the paths the topology draws.",
    "net.ipv4.ip_forward = 1",
    "net.ipv4.conf.all.send_redirects = 0",
    "net.ipv4.conf.default.send_redirects = 0",
    "",
])
# A new network namespace takes its IPv4 settings from this machine's, where podman turned
# forwarding on: the clients and servers of a routed topology are hosts, not routers.
HOST_SYSCTL = "\n".join([
    "# A lab host of a routed topology (lab/lab.py): it does not forward, as real hosts do not.",
    "net.ipv4.ip_forward = 0",
    "",
])


class LabError(Exception):
    """A failure with a message meant for the person running the lab."""


def run(argv, check=True, capture=True, **kwargs):
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF), LC_ALL="C")
    result = subprocess.run(argv, env=env, text=True, check=False,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None, **kwargs)
    if check and result.returncode != 0:
        raise LabError("%s failed (rc=%d): %s" % (" ".join(argv), result.returncode,
                                                  (result.stderr or "").strip()))
    return result


# --- addresses -------------------------------------------------------------------------

def apt_source_hosts():
    """Hosts of the Debian mirrors this machine's apt uses (one-line and deb822 sources)."""
    hosts = []
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for url in re.findall(r"(?:https?|ftp)://[^\s/]+", text):
            hosts.append(url.split("://", 1)[1])
    return hosts


def pip_index_hosts():
    """Hosts pip downloads from: its configured index, else PyPI's (named by pip itself)."""
    hosts = []
    configured = os.environ.get("PIP_INDEX_URL", "")
    if configured:
        hosts.append(re.sub(r"^\w+://([^/:]+).*$", r"\1", configured))
    try:
        from pip._internal.models.index import PyPI  # pylint: disable=import-outside-toplevel
        hosts += [PyPI.netloc, PyPI.file_storage_domain]
    except ImportError:
        pass
    return hosts


def registry_addresses():
    """Every address the package registries resolve to from here, with the names behind it."""
    addresses = {}
    for host in sorted(set(apt_source_hosts() + pip_index_hosts())):
        host = host.split(":")[0]
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            continue  # not resolvable now: nothing of ours can take its route
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            addresses.setdefault(address, set()).add(host)
    return addresses


def host_routes(ignore_devices=()):
    """The machine's routes as (network, description), default routes left out."""
    routes = []
    for family in ("-4", "-6"):
        out = run(["ip", "-j", family, "route", "show", "table", "all"], check=False).stdout
        for route in json.loads(out or "[]"):
            dst = route.get("dst", "")
            if dst in ("default", "") or route.get("dev") in ignore_devices:
                continue
            if route.get("type") in ("broadcast", "multicast", "anycast"):
                continue
            try:
                net = ipaddress.ip_network(dst, strict=False)
            except ValueError:
                continue
            if net.prefixlen == 0:
                continue
            routes.append((net, "route %s dev %s" % (dst, route.get("dev", "?"))))
    return routes


def subnet_conflicts(subnets, routes, registries):
    """Why each of these subnets may not be used, as readable strings (empty: all fine)."""
    problems = []
    nets = []
    for text in subnets:
        try:
            nets.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            problems.append("%s is not a subnet: %s" % (text, exc))
    for i, net in enumerate(nets):
        for other in nets[i + 1:]:
            if net.overlaps(other):
                problems.append("%s overlaps the lab's other subnet %s" % (net, other))
        for route, what in routes:
            if route.version == net.version and net.overlaps(route):
                problems.append("%s overlaps this machine's %s" % (net, what))
        for address, hosts in sorted(registries.items(), key=lambda kv: str(kv[0])):
            if address in net:
                problems.append("%s contains %s, where the package registries %s resolve"
                                % (net, address, ", ".join(sorted(hosts))))
    return problems


def refuse_bad_subnets(subnets, own_bridges=()):
    problems = subnet_conflicts(subnets, host_routes(own_bridges), registry_addresses())
    if problems:
        raise LabError(
            "refusing to create the lab's networks, since traffic for these addresses "
            "would no longer reach this machine's routes or package registries:\n  - "
            + "\n  - ".join(problems)
            + "\nPick subnets inside 198.18.0.0/15 that no route uses (--subnet).")


# --- images ----------------------------------------------------------------------------

def image_name(distro):
    """The image tag: a hash of everything that goes into it, so a changed recipe rebuilds."""
    recipe = hashlib.sha256()
    recipe.update(DISTROS[distro].encode())
    recipe.update(IMAGE_SETUP.read_bytes())
    return "localhost/mptcp-lab-%s:%s" % (distro, recipe.hexdigest()[:12])


def debian_mirror():
    mirror = os.environ.get("LAB_MIRROR")
    if mirror:
        return mirror
    for path in [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found = re.search(r"(https?://[^\s]+/debian)/?(?:\s|$)", text)
        if found:
            return found.group(1)
    raise LabError("no Debian mirror found in this machine's apt sources: set LAB_MIRROR")


def build_image(distro):
    name = image_name(distro)
    if run(["podman", "image", "exists", name], check=False).returncode == 0:
        print("image %s: present, reused" % name)
        return name
    started = time.monotonic()
    root = BUILD_DIR / name.rsplit("/", 1)[1].replace(":", "-")
    if root.exists():
        unmount_below(root)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print("image %s: building from Debian %s" % (name, DISTROS[distro]), flush=True)
    try:
        run(["debootstrap", "--variant=minbase", DISTROS[distro], str(root), debian_mirror()])
        shutil.copy(IMAGE_SETUP, root / "tmp/image-setup.sh")
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        for source, target, kind in (("proc", "proc", "proc"), ("/dev", "dev", None),
                                     ("sysfs", "sys", "sysfs")):
            argv = ["mount", "-t", kind, source, str(root / target)] if kind else \
                ["mount", "--bind", source, str(root / target)]
            run(argv)
        run(["chroot", str(root), "/bin/sh", "/tmp/image-setup.sh"])
    finally:
        unmount_below(root)
    (root / "tmp/image-setup.sh").unlink()
    (root / "etc/resolv.conf").unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    run(["podman", "import", "--change", "CMD [\"/sbin/init\"]",
         "--change", "ENV container=podman", "-", name], stdin=tar.stdout)
    if tar.wait() != 0:
        raise LabError("tar of %s failed" % root)
    shutil.rmtree(root)
    prune_older_images(name)
    print("image %s: built in %.0f s" % (name, time.monotonic() - started))
    return name


def prune_older_images(name):
    """Images of an older recipe of the same distro are never used again: free their disk."""
    repository = name.rsplit(":", 1)[0]
    tags = run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", repository]).stdout
    for tag in tags.split():
        if tag != name:
            run(["podman", "rmi", tag], check=False)


def unmount_below(root):
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        run(["umount", "-l", mount], check=False)


# --- hosts -----------------------------------------------------------------------------

def parse_host(spec):
    match = re.fullmatch(r"([a-z][a-z0-9-]{0,40})=(\w+)(?::([\w,]+))?", spec)
    if not match or match.group(2) not in DISTROS:
        raise LabError("bad --host %r: expected NAME=DISTRO[:GROUP,...] with DISTRO one of %s"
                       % (spec, ", ".join(DISTROS)))
    groups = [g for g in (match.group(3) or "").split(",") if g]
    return {"name": match.group(1), "distro": match.group(2), "groups": groups}


def keyfile(lab, iface, address, prefixlen, gateway, metric, routes=()):
    """A NetworkManager profile with the address podman gave the interface, its gateway
    (None: only the connected subnet) and static routes [(network, via)]."""
    return "\n".join([
        "[connection]",
        "id=lab-%s" % iface,
        "uuid=%s" % uuid.uuid5(uuid.NAMESPACE_DNS, "%s.%s.%s" % (iface, address, lab)),
        "type=ethernet",
        "interface-name=%s" % iface,
        "autoconnect=true",
        "",
        "[ipv4]",
        "method=manual",
        "address1=%s/%d%s" % (address, prefixlen, "," + gateway if gateway else ""),
        "route-metric=%d" % metric,
    ] + ["route%d=%s,%s" % (i + 1, network, via) for i, (network, via) in enumerate(routes)] + [
        "",
        "[ipv6]",
        "method=disabled",
        "",
    ])


def mgmt_keyfile(lab, address, prefixlen):
    """The management interface's profile: no gateway (no default route, so no path a test
    or the role would use) and NetworkManager told to make no MPTCP endpoint on it
    (connection.mptcp-flags 0x1, disabled; NM 1.40 and later. Debian 11's NM 1.30 reads the
    profile without the key, and makes no MPTCP endpoints at all)."""
    return "\n".join([
        "[connection]",
        "id=lab-%s" % MGMT_IFACE,
        "uuid=%s" % uuid.uuid5(uuid.NAMESPACE_DNS, "%s.%s.%s" % (MGMT_IFACE, address, lab)),
        "type=ethernet",
        "interface-name=%s" % MGMT_IFACE,
        "autoconnect=true",
        "mptcp-flags=1",
        "",
        "[ipv4]",
        "method=manual",
        "address1=%s/%d" % (address, prefixlen),
        "never-default=true",
        "",
        "[ipv6]",
        "method=disabled",
        "",
    ])


def mgmt_network_name(lab):
    return "%s-mgmt" % lab


def network_names(lab):
    return ["%s-net%d" % (lab, i + 1) for i in range(len(INTERFACES))]


def ensure_networks(lab, subnets, names=None):
    names = names or network_names(lab)
    existing = {}
    for name in names:
        result = run(["podman", "network", "inspect", name], check=False)
        if result.returncode == 0:
            existing[name] = json.loads(result.stdout)[0]
    own_bridges = [net.get("network_interface") for net in existing.values()]
    refuse_bad_subnets(subnets, own_bridges)
    for name, subnet in zip(names, subnets):
        if name in existing:
            have = [s.get("subnet") for s in existing[name].get("subnets", [])]
            if subnet not in have:
                raise LabError("network %s exists with subnet %s, not %s: run `make lab-down`"
                               % (name, have, subnet))
            continue
        run(["podman", "network", "create", "--internal", "--subnet", subnet,
             "--label", "mptcp-lab=%s" % lab, name])
    return names


def create_host(lab, host, image, workdir, without_mptcp=False):
    """Create and start one container: host has name, interfaces [{iface, network,
    address, prefixlen, gateway, metric, routes} or {iface, network, address, profile: the
    keyfile's text}] and files {path in the container: text}."""
    argv = ["podman", "create", "--name", host["name"], "--hostname", host["name"],
            "--label", "mptcp-lab=%s" % lab, "--systemd=always",
            "--cap-add", "NET_ADMIN", "--security-opt", "unmask=/proc/sys"]
    if without_mptcp:
        # What a kernel without CONFIG_MPTCP shows: no net.mptcp settings. (The
        # kernel is this machine's, so this is as close as a container gets.)
        argv += ["--security-opt", "mask=/proc/sys/net/mptcp"]
    profiles = workdir / host["name"]
    profiles.mkdir()
    for link in host["interfaces"]:
        argv += ["--network", "%s:ip=%s,interface_name=%s" % (link["network"], link["address"], link["iface"])]
        profile = profiles / ("lab-%s.nmconnection" % link["iface"])
        profile.write_text(link.get("profile") or keyfile(
            lab, link["iface"], link["address"], link["prefixlen"], link["gateway"], link["metric"],
            link.get("routes", ())))
        profile.chmod(0o600)
    run(["podman", "rm", "-f", "-t", "0", host["name"]], check=False)
    run(argv + [image, "/sbin/init"])
    run(["podman", "cp", str(profiles) + "/.",
         "%s:/etc/NetworkManager/system-connections/" % host["name"]])
    for path, text in host.get("files", {}).items():
        local = workdir / ("%s-%s" % (host["name"], Path(path).name))
        local.write_text(text)
        run(["podman", "cp", str(local), "%s:%s" % (host["name"], path)])
    run(["podman", "start", host["name"]])


def start_hosts(lab, hosts, mgmt_subnet, without_mptcp=()):
    """Create every host, then wait until each has booted with its profiles active and
    takes the lab's SSH key (lab user, sudo) on its management address."""
    key = ensure_ssh_key(lab)
    for index, host in enumerate(hosts):
        add_mgmt_interface(lab, host, index, ipaddress.ip_network(mgmt_subnet))
    images = {d: build_image(d) for d in sorted({h["distro"] for h in hosts})}
    workdir = Path(tempfile.mkdtemp(prefix="lab-"))
    try:
        for host in hosts:
            create_host(lab, host, images[host["distro"]], workdir, host["name"] in without_mptcp)
    finally:
        shutil.rmtree(workdir)
    for host in hosts:
        wait_for_boot(host["name"], [link["iface"] for link in host["interfaces"]])
        authorize_ssh_key(host["name"], key)
    for host in hosts:
        wait_for_ssh(lab, host)


def up(lab, host_specs, subnets, without_mptcp=(), mgmt_subnet=DEFAULT_MGMT_SUBNET):
    hosts = [parse_host(spec) for spec in host_specs]
    unknown = sorted(set(without_mptcp) - {h["name"] for h in hosts})
    if unknown:
        raise LabError("--without-mptcp names no host of this lab: %s" % unknown)
    if len({h["name"] for h in hosts}) != len(hosts):
        raise LabError("host names must be unique: %s" % host_specs)
    if len(subnets) != len(INTERFACES):
        raise LabError("the lab needs exactly %d subnets, got %s" % (len(INTERFACES), subnets))
    started = time.monotonic()
    nets = [ipaddress.ip_network(s) for s in subnets]
    if len(hosts) + FIRST_HOST_OCTET >= nets[0].num_addresses - 1:
        raise LabError("too many hosts for subnet %s" % nets[0])
    networks = ensure_networks(lab, list(subnets) + [mgmt_subnet], network_names(lab) + [mgmt_network_name(lab)])
    for index, host in enumerate(hosts):
        host["addresses"] = {}
        host["interfaces"] = []
        for i, (iface, net, network) in enumerate(zip(INTERFACES, nets, networks)):
            address = str(net.network_address + FIRST_HOST_OCTET + index)
            host["addresses"][iface] = address
            host["interfaces"].append({"iface": iface, "network": network, "address": address,
                                       "prefixlen": net.prefixlen, "gateway": str(net.network_address + 1),
                                       "metric": 100 * (i + 1)})
    start_hosts(lab, hosts, mgmt_subnet, without_mptcp)
    inventory = write_inventory(lab, hosts)
    print("lab %s up in %.0f s: %s; inventory %s" % (
        lab, time.monotonic() - started,
        ", ".join("%s (%s %s)" % (h["name"], h["distro"], "/".join(h["addresses"].values()))
                  for h in hosts), inventory))
    return inventory


def routed_subnets(topologies, subnets):
    """The subnets of each topology, in order: those given (as many as all the topologies
    have networks) or each topology's defaults."""
    needed = sum(len(ROUTED_TOPOLOGIES[t]["networks"]) for t in topologies)
    if not subnets:
        subnets = [s for t in topologies for s in DEFAULT_ROUTED_SUBNETS[t]]
    if len(subnets) != needed:
        raise LabError("the topologies %s have %d networks: give as many --subnet, got %d (%s)"
                       % (", ".join(topologies), needed, len(subnets), " ".join(subnets)))
    return subnets


def routed_hosts(lab, topology, subnets):
    """The hosts of one routed topology, ready for start_hosts and write_inventory, and
    its networks {short name: (podman network, subnet)}."""
    layout = ROUTED_TOPOLOGIES[topology]
    nets = {}
    for short, subnet in zip(layout["networks"], subnets):
        net = ipaddress.ip_network(subnet, strict=True)
        if net.prefixlen > 24:
            raise LabError("subnet %s of topology %s is smaller than a /24" % (subnet, topology))
        nets[short] = ("%s-%s-%s" % (lab, layout["short"], short), net)

    def address_of(role, network):
        return str(nets[network][1].network_address + layout["hosts"][role]["octet"])

    hosts = []
    for role, spec in layout["hosts"].items():
        name = "%s-%s-%s" % (lab, layout["short"], role)
        kind = "router" if spec.get("router") else role
        group = layout["%s_group" % kind]
        host = {"name": name, "distro": spec["distro"], "role": kind, "topology": topology,
                "groups": [group] + (["mptcp_routers"] if kind == "router" else ["mptcp_%ss" % kind]),
                "addresses": {}, "gateways": {}, "interfaces": [], "files": {}}
        for index, (iface, network, gateway_role) in enumerate(spec["interfaces"]):
            gateway = address_of(gateway_role, network) if gateway_role else None
            routes = []
            for dst, via in spec.get("routes", ()):
                # A static route to `dst` through the router `via` on the network both share.
                if network in [link[1] for link in layout["hosts"][via]["interfaces"]]:
                    routes.append((str(nets[dst][1]), address_of(via, network)))
            host["addresses"][iface] = address_of(role, network)
            host["gateways"][iface] = gateway
            host["interfaces"].append({
                "iface": iface, "network": nets[network][0], "address": address_of(role, network),
                "prefixlen": nets[network][1].prefixlen,
                "gateway": gateway if iface == spec.get("default") else None,
                "metric": 100 * (index + 1), "routes": routes})
        if kind == "router":
            host["files"]["/etc/sysctl.d/90-lab-router.conf"] = ROUTER_SYSCTL
        else:
            host["files"]["/etc/sysctl.d/90-lab-host.conf"] = HOST_SYSCTL
        hosts.append(host)
    return hosts, nets


def up_routed(lab, topologies, subnets, mgmt_subnet=DEFAULT_MGMT_SUBNET):
    """Start the hosts of the routed topologies (several may share one lab: each has its
    own networks and host names) and write one inventory for all of them."""
    if len(set(topologies)) != len(topologies):
        raise LabError("a topology may be named once: %s" % " ".join(topologies))
    subnets = routed_subnets(topologies, subnets)
    started = time.monotonic()
    hosts = []
    names = []
    offset = 0
    for topology in topologies:
        count = len(ROUTED_TOPOLOGIES[topology]["networks"])
        topology_hosts, nets = routed_hosts(lab, topology, subnets[offset:offset + count])
        offset += count
        hosts += topology_hosts
        names += [nets[short][0] for short in ROUTED_TOPOLOGIES[topology]["networks"]]
    ensure_networks(lab, list(subnets) + [mgmt_subnet], names + [mgmt_network_name(lab)])
    start_hosts(lab, hosts, mgmt_subnet)
    inventory = write_inventory(lab, hosts)
    print("lab %s up in %.0f s (%s): %s; inventory %s" % (
        lab, time.monotonic() - started, ", ".join(topologies),
        ", ".join("%s (%s %s)" % (h["name"], h["distro"], "/".join(h["addresses"].values()))
                  for h in hosts), inventory))
    return inventory


INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


def degraded_hint(failed_units, limit_path=INOTIFY_INSTANCES):
    """What a failed user@UID.service most likely means here: systemd --user found no
    inotify instance left (each lab host takes about 9 of root's, against a default
    limit of 128), which happens when many labs run at once. The lab still works; a
    test that starts user services would not."""
    if "user@" not in failed_units:
        return ""
    with open(limit_path) as handle:
        limit = handle.read().strip()
    return ("; user@ failing is what a shortage of inotify instances does (fs.inotify.max_user_instances"
            " is %s, about 9 per lab host: other labs running?)" % limit)


def wait_for_boot(name, interfaces=INTERFACES + (MGMT_IFACE,)):
    """Until systemd finished booting and NetworkManager activated the lab's profiles."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    state = ""
    while time.monotonic() < deadline:
        state = run(["podman", "exec", name, "systemctl", "is-system-running"],
                    check=False).stdout.strip()
        if state in ("running", "degraded"):
            active = run(["podman", "exec", name, "nmcli", "-g", "NAME", "connection", "show",
                          "--active"], check=False).stdout.split()
            if all("lab-%s" % iface in active for iface in interfaces):
                if state == "degraded":
                    failed = run(["podman", "exec", name, "systemctl", "--failed", "--plain",
                                  "--no-legend"], check=False).stdout.strip()
                    print("%s: booted degraded, failed units: %s%s" % (name, failed, degraded_hint(failed)))
                return
            state = "NetworkManager has not activated %s (active: %s)" % (
                " and ".join("lab-%s" % iface for iface in interfaces), active)
        time.sleep(1)
    raise LabError("%s did not finish booting in %d s: %s" % (name, BOOT_TIMEOUT, state))


# --- SSH: the way Ansible reaches the hosts ---------------------------------------------

def ssh_key_path(lab):
    return STATE_DIR / lab / "id_ed25519"


def ensure_ssh_key(lab):
    """The lab's key pair (no passphrase), made once per lab and removed by `down`."""
    key = ssh_key_path(lab)
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mptcp-lab-%s" % lab, "-f", str(key)])
    return key


def add_mgmt_interface(lab, host, index, net):
    """The host's management interface, for create_host: its address (host["mgmt_address"],
    where the inventory's SSH goes) and its own profile (mgmt_keyfile)."""
    address = str(net.network_address + FIRST_HOST_OCTET + index)
    host["mgmt_address"] = address
    host["interfaces"].append({"iface": MGMT_IFACE, "network": mgmt_network_name(lab), "address": address,
                               "profile": mgmt_keyfile(lab, address, net.prefixlen)})


def authorize_ssh_key(name, key):
    """The lab's public key in ~lab/.ssh/authorized_keys: put there at `up`, not baked into
    the image, so every lab has a key of its own."""
    home = "/home/%s" % LAB_USER
    run(["podman", "exec", name, "install", "-d", "-m", "0700", "-o", LAB_USER, "-g", LAB_USER, home + "/.ssh"])
    run(["podman", "cp", "%s.pub" % key, "%s:%s/.ssh/authorized_keys" % (name, home)])
    run(["podman", "exec", name, "chown", "%s:%s" % (LAB_USER, LAB_USER), home + "/.ssh/authorized_keys"])
    run(["podman", "exec", name, "chmod", "0600", home + "/.ssh/authorized_keys"])


def known_hosts_path(lab):
    return STATE_DIR / lab / "known_hosts"


def ssh_options(lab):
    """What every SSH connection to the lab says: the host key is learnt on first contact
    (the hosts make theirs at first boot) into a file of the lab's own."""
    return ["-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=%s" % known_hosts_path(lab)]


def wait_for_ssh(lab, host):
    """Until the host's sshd lets the lab user in and sudo makes them root without a
    password; this also records the host's key in the lab's known_hosts."""
    argv = ["ssh", "-i", str(ssh_key_path(lab)), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"] \
        + ssh_options(lab) + ["%s@%s" % (LAB_USER, host["mgmt_address"]), "sudo", "-n", "id", "-u"]
    deadline = time.monotonic() + SSH_TIMEOUT
    result = None
    while time.monotonic() < deadline:
        result = run(argv, check=False)
        if result.returncode == 0 and result.stdout.strip() == "0":
            return
        time.sleep(1)
    raise LabError("%s: no SSH with sudo as %s@%s in %d s: %s" % (
        host["name"], LAB_USER, host["mgmt_address"], SSH_TIMEOUT, (result.stderr or "").strip()))


def ssh_inventory_vars(lab):
    """The inventory's way in: SSH as the lab user on the management address, become root
    with sudo. Pipelining and ControlPersist are in ansible.cfg, as a user's would be."""
    # ansible_connection said here, not left to the default: a task delegated to a lab host
    # from a play with `connection: local` would otherwise take the play's connection and
    # run on this machine (as root, with become), not on the host it names.
    return {"ansible_connection": "ssh",
            "ansible_user": LAB_USER,
            "ansible_become": True,
            "ansible_ssh_private_key_file": str(ssh_key_path(lab)),
            "ansible_ssh_common_args": " ".join(ssh_options(lab)),
            # The lab's own ControlPersist sockets: a later lab on the same addresses
            # never meets a master connection of an earlier one.
            "ansible_control_path_dir": "~/.ansible/cp/%s" % lab}


def write_inventory(lab, hosts):
    groups = {}
    for host in hosts:
        for group in host["groups"] + [host["distro"]]:
            groups.setdefault(group, {"hosts": {}})["hosts"][host["name"]] = None
    hostvars = {}
    for host in hosts:
        hostvars[host["name"]] = {"lab_distro": host["distro"], "lab_addresses": host["addresses"]}
        if "topology" in host:
            hostvars[host["name"]].update(lab_topology=host["topology"], lab_role=host["role"],
                                          lab_gateways=host["gateways"])
    common = {"ansible_python_interpreter": "/usr/bin/python3", "lab_name": lab}
    ssh_hosts = dict((host["name"], dict(hostvars[host["name"]], ansible_host=host["mgmt_address"]))
                     for host in hosts)
    # podman exec as root (containers.podman 1.21 pipelines): for what needs no SSH.
    podman_vars = dict(common, ansible_connection="containers.podman.podman")
    for name, variables, hosts_vars in (("inventory-podman.yml", podman_vars, hostvars),
                                        ("inventory.yml", dict(common, **ssh_inventory_vars(lab)), ssh_hosts)):
        path = STATE_DIR / lab / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: Ansible's yaml inventory plugin reads it, and lab.py needs no PyYAML.
        path.write_text("# Written by lab/lab.py up; removed by lab/lab.py down.\n"
                        + json.dumps({"all": {"vars": variables, "hosts": hosts_vars, "children": groups}},
                                     indent=2) + "\n")
    return path


def down(lab=None):
    """Remove one lab's containers, networks and state; all labs' with lab=None."""
    label = "label=mptcp-lab=%s" % lab if lab else "label=mptcp-lab"
    names = run(["podman", "ps", "-a", "--filter", label, "--format", "{{.Names}}"]).stdout.split()
    if names:
        run(["podman", "rm", "-f", "-t", "0"] + names)
    nets = run(["podman", "network", "ls", "--filter", label, "--format", "{{.Name}}"]).stdout.split()
    if nets:
        run(["podman", "network", "rm", "-f"] + nets)
    for state in [STATE_DIR / lab] if lab else [p for p in STATE_DIR.glob("*") if p != BUILD_DIR]:
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(Path("~/.ansible/cp").expanduser() / state.name, ignore_errors=True)
    print("lab %s down: removed %d containers, %d networks"
          % (lab or "(all)", len(names), len(nets)))


# Test namespaces are all named so (tests/kernel/conftest.py); podman's own are netns-UUID.
TEST_NETNS_PREFIX = "mptcp-test-"


def leftovers():
    """What of ours is still on the machine: lab containers and networks (any lab), and
    the tests' network namespaces."""
    label = "label=mptcp-lab"
    found = ["container %s" % n for n in run(["podman", "ps", "-a", "--filter", label,
                                             "--format", "{{.Names}}"]).stdout.split()]
    found += ["network %s" % n for n in run(["podman", "network", "ls", "--filter", label,
                                            "--format", "{{.Name}}"]).stdout.split()]
    found += ["network namespace %s" % n.split()[0] for n in run(["ip", "netns", "list"]).stdout.splitlines()
              if n.startswith(TEST_NETNS_PREFIX)]
    # The registries must still be reached the way they were: not through a bridge of ours.
    for address, hosts in sorted(registry_addresses().items(), key=lambda kv: str(kv[0])):
        route = json.loads(run(["ip", "-j", "route", "get", str(address)], check=False).stdout or "[{}]")[0]
        if route.get("dev", "").startswith(("podman", "cni")):
            found.append("the route to %s (%s) through %s" % (address, ", ".join(sorted(hosts)), route["dev"]))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--name", default=os.environ.get("LAB_NAME", "mptcp-lab"),
                        help="the lab's name: label, network and state directory prefix")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the images that are missing")
    build.add_argument("distros", nargs="*", metavar="DISTRO",
                       help="any of %s (default: all)" % ", ".join(sorted(DISTROS)))
    start = sub.add_parser("up", help="start the lab's hosts and write its inventory")
    start.add_argument("--host", action="append", dest="hosts",
                       help="NAME=DISTRO[:GROUP,...], repeatable (default: %s)"
                       % " ".join(DEFAULT_HOSTS))
    start.add_argument("--subnet", action="append", dest="subnets",
                       help="two IPv4 subnets (default: %s)" % " ".join(DEFAULT_SUBNETS))
    start.add_argument("--mgmt-subnet", default=DEFAULT_MGMT_SUBNET,
                       help="the management network's IPv4 subnet, for SSH (default: %s)" % DEFAULT_MGMT_SUBNET)
    start.add_argument("--without-mptcp", action="append", default=[], metavar="NAME",
                       help="this host sees no net.mptcp settings, like a kernel without MPTCP")
    start.add_argument("--topology", action="append", dest="topologies", choices=TOPOLOGIES,
                       help="direct (default: every host on both networks) or one or more routed "
                       "topologies, each with hosts and networks of its own (lab/README.md)")
    sub.add_parser("down", help="remove the lab's containers, networks and state")
    sub.add_parser("down-all", help="remove every lab's containers, networks and state")
    sub.add_parser("check-clean", help="fail if a lab or a test namespace is left on the machine")
    check = sub.add_parser("check-subnets", help="refuse subnets that overlap routes or registries")
    check.add_argument("subnets", nargs="+")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", args.name):
        parser.error("bad --name %r" % args.name)
    try:
        if args.command == "build":
            unknown = sorted(set(args.distros) - set(DISTROS))
            if unknown:
                raise LabError("unknown distro %s: choose from %s" % (unknown, sorted(DISTROS)))
            for distro in args.distros or sorted(DISTROS):
                build_image(distro)
        elif args.command == "up" and args.topologies in (None, ["direct"]):
            up(args.name, args.hosts or DEFAULT_HOSTS, args.subnets or DEFAULT_SUBNETS,
               args.without_mptcp, args.mgmt_subnet)
        elif args.command == "up":
            if "direct" in args.topologies or args.hosts or args.without_mptcp:
                raise LabError("the routed topologies have hosts of their own: --topology direct, "
                               "--host and --without-mptcp do not go with them")
            up_routed(args.name, args.topologies, args.subnets, args.mgmt_subnet)
        elif args.command == "down":
            down(args.name)
        elif args.command == "down-all":
            down()
        elif args.command == "check-clean":
            left = leftovers()
            if left:
                raise LabError("left on this machine: %s" % ", ".join(left))
            print("nothing of the lab or the tests is left on this machine")
        elif args.command == "check-subnets":
            refuse_bad_subnets(args.subnets)
            print("subnets usable: %s" % " ".join(args.subnets))
    except LabError as exc:
        print("lab: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
