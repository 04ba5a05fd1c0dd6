"""The collection's execution environment (EE), built and run here the way AWX runs one.

    ee.py base-image    the Debian base image (debootstrap), reused while its recipe is unchanged
    ee.py build         the collection's tarball, then ansible-builder with
                        meta/execution-environment.yml on that base image
    ee.py run PRIVATE_DATA_DIR PLAYBOOK [--ident NAME]
                        ansible-runner inside the EE with a private data dir, as AWX does

No container registry is reachable from our machines, so the base image that
meta/execution-environment.yml names (UBI 9) cannot be pulled: `build` builds the same
definition, unchanged, on a Debian base image made here, through ansible-builder's build
arguments (EE_BASE_IMAGE, PKGMGR, PYCMD, PYPKG). The machine's CA bundle is mounted into
the build's RUN steps, so pip inside `podman build` trusts what the machine trusts (a
TLS-inspecting egress proxy on ours); it is not copied into any image.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
REPO_DIR = TOOLS_DIR.parent.parent
sys.path.insert(0, str(REPO_DIR / "lab"))
# The lab's helpers: podman with lab/containers.conf, the machine's Debian mirror.
from lab import LabError, debian_mirror, run, unmount_below  # noqa: E402 pylint: disable=wrong-import-position

BIN = REPO_DIR / ".venv" / "bin"
WORK_DIR = REPO_DIR / ".tmp" / "ee"
DEFINITION = REPO_DIR / "meta" / "execution-environment.yml"
BASE_SETUP = TOOLS_DIR / "base-image-setup.sh"
BASE_SUITE = "trixie"  # Python 3.13: ansible-core 2.21 needs 3.12 or later
BASE_REPOSITORY = "localhost/mptcp-ee-base"
EE_REPOSITORY = "localhost/mptcp-linux-ee"
# The build arguments that put the shipped definition on the Debian base image.
DEBIAN_BUILD_ARGS = {"PKGMGR": "/usr/bin/apt-get", "PYCMD": "/usr/bin/python3",
                     "PYPKG": "python3 python3-pip openssh-client"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def base_image_name():
    """The tag is a hash of the recipe: a changed recipe builds a new image."""
    recipe = hashlib.sha256(BASE_SUITE.encode() + BASE_SETUP.read_bytes())
    return "%s:%s" % (BASE_REPOSITORY, recipe.hexdigest()[:12])


def build_base_image():
    name = base_image_name()
    if run(["podman", "image", "exists", name], check=False).returncode == 0:
        print("base image %s: present, reused" % name)
        return name
    started = time.monotonic()
    root = WORK_DIR / "base-root"
    if root.exists():
        unmount_below(root)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print("base image %s: building from Debian %s" % (name, BASE_SUITE), flush=True)
    try:
        run(["debootstrap", "--variant=minbase", BASE_SUITE, str(root), debian_mirror()])
        shutil.copy(BASE_SETUP, root / "tmp/base-image-setup.sh")
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        run(["mount", "-t", "proc", "proc", str(root / "proc")])
        run(["chroot", str(root), "/bin/sh", "/tmp/base-image-setup.sh"])
    finally:
        unmount_below(root)
    (root / "tmp/base-image-setup.sh").unlink()
    (root / "etc/resolv.conf").unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    run(["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", name], stdin=tar.stdout)
    if tar.wait() != 0:
        raise LabError("tar of %s failed" % root)
    shutil.rmtree(root)
    for tag in run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPOSITORY]).stdout.split():
        if tag != name:  # an older recipe's image is never used again
            run(["podman", "rmi", tag], check=False)
    print("base image %s: built in %.0f s" % (name, time.monotonic() - started))
    return name


def run_ansible(argv, capture=True):
    """An Ansible tool (ansible-galaxy, ansible-builder): they need a UTF-8 locale, which
    the lab's run() does not set."""
    env = dict(os.environ, CONTAINERS_CONF=str(REPO_DIR / "lab" / "containers.conf"), LC_ALL="C.UTF-8")
    result = subprocess.run(argv, env=env, text=True, check=False, stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise LabError("%s failed (rc=%d): %s" % (" ".join(argv), result.returncode, (result.stderr or "").strip()))
    return result


def collection_version():
    import yaml  # pylint: disable=import-outside-toplevel
    return yaml.safe_load((REPO_DIR / "galaxy.yml").read_text())["version"]


def ee_image_name():
    return "%s:%s" % (EE_REPOSITORY, collection_version())


def build_collection():
    """The tarball where the definition looks for it (../ of meta/), as a user's
    `ansible-galaxy collection build` in the checkout leaves it."""
    run_ansible([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(REPO_DIR),
                 str(REPO_DIR)])
    return REPO_DIR / ("mptcp-linux-%s.tar.gz" % collection_version())


def build_ee(base_image):
    tarball = build_collection()
    name = ee_image_name()
    started = time.monotonic()
    argv = [str(BIN / "ansible-builder"), "build", "--file", str(DEFINITION), "--tag", name,
            "--context", str(WORK_DIR / "context"), "--container-runtime", "podman", "--verbosity", "2",
            "--build-arg", "EE_BASE_IMAGE=%s" % base_image]
    for key, value in DEBIAN_BUILD_ARGS.items():
        argv += ["--build-arg", "%s=%s" % (key, value)]
    if HOST_CA_BUNDLE.is_file():
        argv += ["--extra-build-cli-args", "--volume %s:/etc/ssl/certs/ca-certificates.crt:ro" % HOST_CA_BUNDLE]
    print("EE %s: ansible-builder build from %s with %s" % (name, DEFINITION.relative_to(REPO_DIR), tarball.name),
          flush=True)
    run_ansible(argv, capture=False)
    size = run(["podman", "image", "inspect", "--format", "{{.Size}}", name]).stdout.strip()
    print("EE %s: built in %.0f s, %d MB" % (name, time.monotonic() - started, int(size) // 10 ** 6))
    return name


def run_job(image, private_data_dir, playbook, ident, network="host"):
    """ansible-runner inside the EE with the job's private data dir at /runner, which is
    what AWX does (its worker is ansible-runner in the EE). The data dir belongs to the
    EE's user (1000), as an AWX job's files do; host networking: this machine has the
    lab bridges' gateway addresses, as an AWX node has routes to its fleet."""
    private_data_dir = Path(private_data_dir)
    run(["chown", "-R", "1000:0", str(private_data_dir)])
    argv = ["podman", "run", "--rm", "--network", network, "--volume", "%s:/runner:Z" % private_data_dir,
            image, "ansible-runner", "run", "/runner", "--playbook", playbook, "--ident", ident]
    started = time.monotonic()
    result = run(argv, check=False)
    print("EE job %s (%s): rc=%d in %.0f s" % (ident, playbook, result.returncode, time.monotonic() - started))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("base-image", help="build the Debian base image if missing")
    sub.add_parser("build", help="build the base image if missing, then the EE with ansible-builder")
    job = sub.add_parser("run", help="run a playbook of a private data dir inside the EE")
    job.add_argument("private_data_dir")
    job.add_argument("playbook")
    job.add_argument("--ident", default="job")
    args = parser.parse_args(argv)
    try:
        if args.command == "base-image":
            build_base_image()
        elif args.command == "build":
            build_ee(build_base_image())
        else:
            result = run_job(ee_image_name(), args.private_data_dir, args.playbook, args.ident)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            return result.returncode
    except LabError as error:
        print("ee.py: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
