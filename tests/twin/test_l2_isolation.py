"""The layer-2 proof (`python -m nettwin l2-check`): a tenant's broadcasts reach its own VNet's bridges on the
other nodes and no bridge of another VNet; a bridged leak between two tenants' VNets makes it fail, naming
the bridge."""

import subprocess

from .conftest import in_netns, nettwin


def test_l2_check_passes_with_vxlan_carrying_each_tenants_frames(twin):
    process = nettwin("l2-check", "--state-dir", twin["state_dir"])
    assert process.returncode == 0, process.stdout + process.stderr
    lines = process.stdout.splitlines()
    bridges = sum(len(vnet["bridges"]) for vnet in twin["twin"]["vnets"].values())
    assert len(lines) == bridges and all(line.startswith("pass ") for line in lines)
    # positive control: web1 (pve1) on acme01 of the other nodes, app1 (pve2) on globex01 of the others
    assert "pass acme01 on pve2: ok (carried by VXLAN: web1)" in lines
    assert "pass globex01 on pve3: ok (carried by VXLAN: app1)" in lines


def test_l2_check_fails_naming_the_bridge_a_foreign_frame_reached(twin):
    node_ns = twin["twin"]["nodes"]["pve2"]["netns"]
    leak = ["link add leak_a type veth peer name leak_b", "link set leak_a master acme01 up", "link set leak_b master globex01 up"]
    try:
        subprocess.run(["ip", "-n", node_ns, "-batch", "-"], input="\n".join(leak) + "\n", text=True, check=True, timeout=10)
        process = nettwin("l2-check", "--state-dir", twin["state_dir"])
        assert process.returncode == 1, process.stdout
        assert any(line.startswith("FAIL globex01 on pve2: FOREIGN frames of web1") for line in process.stdout.splitlines()), process.stdout
    finally:
        in_netns(node_ns, "ip", "link", "delete", "leak_a")
