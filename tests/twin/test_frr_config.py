"""FRR in the twin: the bgpd config derived from the rendered frr.conf (what runs without a kernel VRF), and
`frr-check`: FRR's own check of each node's whole rendered file, failing on a bad line and naming it."""

import json
import os
import shutil

from .conftest import nettwin


def test_the_derived_config_keeps_the_evpn_underlay_and_drops_the_vrf_parts(twin):
    with open(os.path.join(twin["state_dir"], "twin.json.frr"), encoding="utf-8") as handle:
        frr = json.load(handle)
    with open(frr["bgpd_conf"]["pve1"], encoding="utf-8") as handle:
        derived = handle.read()
    assert "router bgp 65000\n bgp router-id 10.255.0.1\n" in derived
    assert " neighbor 10.255.0.2 peer-group VTEP\n neighbor 10.255.0.3 peer-group VTEP\n" in derived
    assert "  advertise-all-vni\n" in derived
    assert " vrf " not in derived and "\nvrf " not in derived and "import vrf" not in derived
    kinds = set(item["kind"] for item in twin["twin"]["frr"]["dropped"])
    assert {"vrf block (kernel VRF: vni, routes)", "router bgp vrf block (EVPN type-5 / exit nodes)",
            "import vrf (route leaking from a VRF instance: no kernel VRF)"} <= kinds
    assert {"kind": "vrf block (kernel VRF: vni, routes)", "line": "vrf vrf_acme"} in frr["dropped"]["pve1"]


def test_frr_check_passes_on_every_nodes_rendered_frr_conf(twin):
    process = nettwin("frr-check", "--state-dir", twin["state_dir"])
    assert process.returncode == 0, process.stdout + process.stderr
    assert [line.split(":")[0] for line in process.stdout.splitlines()] == ["pve1", "pve2", "pve3"]
    assert all(": valid (vtysh -C -f " in line for line in process.stdout.splitlines())


def test_frr_check_fails_on_a_corrupted_copy_naming_the_line(twin, tmp_path):
    corrupted = str(tmp_path / "pve2.conf")
    shutil.copyfile(twin["twin"]["nodes"]["pve2"]["rendered_frr"], corrupted)
    with open(corrupted, encoding="utf-8") as handle:
        text = handle.read()
    assert " neighbor VTEP remote-as 65000\n" in text
    with open(corrupted, "w", encoding="utf-8") as handle:
        handle.write(text.replace(" neighbor VTEP remote-as 65000\n", " neighbor VTEP remote-ass 65000\n"))
    process = nettwin("frr-check", "--file", corrupted)
    assert process.returncode == 1, process.stdout
    assert process.stdout.startswith("pve2.conf: INVALID: ")
    assert "neighbor VTEP remote-ass 65000" in process.stdout
