"""The rows of the bad-input table (tests/data/bad_inputs.yml) for NetworkManager and the
role, on a lab of this module's own: a Debian 12 (NetworkManager 1.42, systemd 252) and a
Debian 13 host (1.52, 257). The role first sets the hosts up with ROLE_FIRST; then one
playbook runs every row on both hosts (nm_mptcp_flags with the row's arguments, or the
role with ROLE_SECOND and the row's variables over them: ROLE_SECOND alone would change
every part of the hosts), each row followed by the hosts' state. Each row must fail, naming its
value, with the state as it was."""

import pytest
import yaml

from bad_input_table import LAB_STATE, ROLE_FIRST, ROLE_SECOND, assert_refused, load, playbook, results, row_id

LAB_PREFIX = "rel-bad"
LAB_SUBNETS = ["198.18.141.0/24", "198.18.142.0/24", "198.18.149.0/24"]
ROWS = load(lambda row: "role" in row or row.get("module") == "nm_mptcp_flags")


@pytest.fixture(scope="module")
def outcomes(own_lab, tmp_path_factory):
    """{host: {row id: (result, state before, state after)}}."""
    work = tmp_path_factory.mktemp("bad-inputs")
    (work / "baseline.yml").write_text(yaml.safe_dump([{"name": "baseline", "hosts": "all", "gather_facts": False,
                                                        "roles": [{"role": "mptcp.linux.mptcp", "vars": ROLE_FIRST}]}]))
    proc = own_lab.playbook(str(work / "baseline.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (work / "rows.yml").write_text(playbook(ROWS, "all", "/usr/bin/python3", LAB_STATE, valid=ROLE_SECOND), encoding="utf-8")
    report = own_lab.json_playbook(str(work / "rows.yml"))
    return dict((host, results(report, ROWS, host)) for host in own_lab.hosts)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_a_bad_input_fails_naming_its_value_and_changes_nothing(outcomes, row):
    for host, found in outcomes.items():
        result, before, after = found[row["id"]]
        assert_refused(row, result)
        assert after == before, host
        first = found[ROWS[0]["id"]][1]
        assert after == first, host
        assert "net.mptcp.add_addr_timeout = 60" in first["files"]["/etc/sysctl.d/90-mptcp.conf"][3]
        assert first["units"] == {"mptcp-pm.service": "enabled"} and first["nm"]["lab-eth1"][1] == "0x1\n"
