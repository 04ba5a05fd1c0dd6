#!/bin/sh
# Runs inside the debootstrapped chroot of the execution environment's base image
# (tools/ee/ee.py base-image). Part of the image's recipe: editing this file changes the
# image's tag, so the next `make ee` rebuilds it.
#
# What ansible-builder needs of a base image (version 3): a Python that can pip, and a
# package manager for bindep's packages (apt-get here; meta/execution-environment.yml
# names dnf for its UBI base, and `make ee` passes PKGMGR). What an execution
# environment needs to reach hosts: an SSH client, sshpass for password logins (AWX's
# Machine credentials may carry one), git for projects and collections from git.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

apt-get update -q
apt-get install -y -q --no-install-recommends \
    python3 python3-pip python3-venv git openssh-client sshpass ca-certificates
apt-get clean
# The package lists stay: bindep's packages (iproute2 from the collection's bindep.txt)
# are installed with apt-get inside `podman build`, which has no `apt-get update` step.
