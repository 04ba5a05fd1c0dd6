# mptcp.linux: every target installs what it needs (Debian packages, .venv) by itself.
#   make demo   the lab up, the role applied (site.yml), MPTCP proven on the wire (verify.yml)
#   make test   lint, sanity, unit, kernel (namespaces), integration (lab), molecule: timed
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The control node's Python: ansible-core 2.21 needs 3.12 to 3.14. tools/control-python.sh
# finds one (python3.13/3.12 on PATH, pyenv's, the system's) and says which; PYTHON=...
# names one instead.
export PYTHON
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.tmp/collections
COLLECTION := $(COLLECTIONS)/ansible_collections/mptcp/linux
LAB := $(BIN)/python $(CURDIR)/lab/lab.py
DEMO_LAB := mptcp-lab

# The podman settings that work on our machines; lab/README.md says why.
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
# Ansible finds this checkout as the collection mptcp.linux (and containers.podman,
# which PyPI's ansible package carries, in the venv).
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

DEBIAN_PACKAGES := podman runc debootstrap iproute2 iperf3 python3-venv git shellcheck chromium

# Run a stage, print its time, keep its exit status.
define stage
	@start=$$(date +%s); rc=0; $(MAKE) --no-print-directory $(1) || rc=$$?; \
	 echo "== stage $(1): $$(( $$(date +%s) - start )) s, $$( [ $$rc = 0 ] && echo passed || echo FAILED )"; \
	 exit $$rc
endef

.PHONY: help demo test lint sanity unit kernel integration molecule lab lab-down lab-images \
        deps venv collection clean bench ee

help:
	@echo "make demo      lab up, the role applied (site.yml), MPTCP proven on the wire (verify.yml)"
	@echo "make test      lint, sanity, unit, kernel, integration, molecule (each stage timed)"
	@echo "make lint | sanity | unit | kernel | integration | molecule | lab | lab-down | lab-images"
	@echo "make bench     the role against the guides' way and a ping on 4, 16 and 64 lab hosts over SSH (about 50 min,"
	@echo "               not in make test; raises fs.inotify.max_user_instances for the run: BENCH_FLAGS= to not)"
	@echo "make ee        the execution environment built (ansible-builder) and site/verify/drift run from it"

# --- what the targets need ---------------------------------------------------------------
deps: .tmp/deps.stamp
.tmp/deps.stamp: Makefile
	@mkdir -p .tmp
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	   | grep -q '^install ok installed' || echo $$p; done); \
	 if [ -n "$$missing" ]; then \
	   echo "installing Debian packages: $$missing"; \
	   apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	 fi
	@touch $@

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements/control.txt | .tmp/deps.stamp
	@python=$$(tools/control-python.sh) || exit 1; \
	 rm -rf $(VENV) && echo "$$python -m venv $(VENV)" && "$$python" -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/control.txt
	@touch $@

# The collection as Ansible and ansible-test look for it: ansible_collections/mptcp/linux.
collection: $(COLLECTION)
$(COLLECTION):
	@mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

# --- tests -------------------------------------------------------------------------------
test: venv collection
	@echo "make test: lint, sanity, unit, kernel, integration, molecule, ee"
	@rc=0; for s in lint sanity unit kernel integration molecule ee; do \
	   $(MAKE) --no-print-directory timed-$$s || { rc=1; break; }; done; \
	 $(LAB) down-all && $(LAB) check-clean || rc=1; exit $$rc

timed-%:
	$(call stage,$*)

# ansible-lint (profile production, no skip list), the plugins' documentation as
# docs.ansible.com would render it, and the changelog fragments.
lint: venv collection
	cd $(COLLECTION) && $(BIN)/ansible-lint --profile production
	cd $(COLLECTION) && $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(BIN)/antsibull-changelog lint

# ansible-test sanity and units on every ansible-core line that meta/runtime.yml admits,
# each in a venv of its own on the newest Python the line admits as controller (pyenv's
# here: 3.11 for 2.15, 3.12 for 2.16 and 2.17, 3.13 for 2.18 to 2.21; tools/core-venv.sh).
# ansible-core 2.14 is not supported (README, Supported platforms); 2.22 is not on PyPI.
ANSIBLE_CORE_LINES := 2.15.13 2.16.19 2.17.14 2.18.19 2.19.14 2.20.10 2.21.5
sanity: .tmp/deps.stamp
	tools/ansible-test-matrix.sh $(ANSIBLE_CORE_LINES)

unit: venv collection
	$(BIN)/pytest -q tests/unit

# tests/kernel/test_target_pythons.py runs the modules on pyenv's Pythons 3.6 (through
# ansible-core 2.16 in .venv-core, made by tools/core-venv.sh), 3.9, 3.12 and 3.13.
kernel: venv collection
	$(BIN)/pytest -q tests/kernel

integration: venv collection lab-images
	$(BIN)/pytest -q tests/lab

molecule: venv collection lab-images
	$(BIN)/molecule test --all

# Numbers only, and minutes long: not part of make test. A lab of its own, always removed.
# 64 lab hosts need about 450 inotify instances, more than the default limit of 128
# (benchmarks/README.md): --raise-inotify raises it for the run and puts it back after.
BENCH_FLAGS ?= --raise-inotify
bench: venv collection lab-images
	$(BIN)/python benchmarks/fleet.py --hosts 4 16 64 --repeat 3 $(BENCH_FLAGS)

# The execution environment: meta/execution-environment.yml built by ansible-builder on a
# Debian base image made here (tools/ee/ee.py), then site.yml, verify.yml and drift.yml run
# from it by ansible-runner over SSH, as AWX runs a job. About 2 minutes warm, not in
# make test (README, "Execution environment"). A lab of its own, always removed.
ee: venv collection lab-images
	$(BIN)/pytest -q tests/ee

# --- the lab -----------------------------------------------------------------------------
lab-images: venv
	$(LAB) build

lab: venv collection
	$(LAB) --name $(DEMO_LAB) up

lab-down: venv
	$(LAB) down-all
	$(LAB) check-clean

demo: lab
	$(BIN)/ansible-playbook -i .lab/$(DEMO_LAB)/inventory.yml -e @lab/mptcp-vars.yml \
	  -e site_summary_file=$(CURDIR)/.lab/$(DEMO_LAB)/summary.txt playbooks/site.yml
	$(BIN)/ansible-playbook -i .lab/$(DEMO_LAB)/inventory.yml -e @lab/verify-vars.yml \
	  -e mptcp_verify_report=$(CURDIR)/.lab/$(DEMO_LAB)/verify.json playbooks/verify.yml
	@echo; echo "What each lab host has now:"; cat .lab/$(DEMO_LAB)/summary.txt
	@echo; echo "MPTCP on the wire (both client links shaped to 50 Mbit/s; report: .lab/$(DEMO_LAB)/verify.json):"
	@cat .lab/$(DEMO_LAB)/verify.txt

clean: lab-down
	rm -rf .tmp $(VENV) .venv-core tests/output
