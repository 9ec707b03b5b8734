"""pvesim against answers of real PVE installations, recorded in public sources (tests/sim/recorded/).

Each recording is replayed: the objects it shows are recreated in a simulator of the same PVE
major version (both 8.4 and 9.1 when the recording does not say which), the same GET is issued,
and the answers are compared entry by entry: the same keys (present and absent), the same JSON
types (string vs integer is the point: PVE returns `mask` as "24" but `tag` as 100), the same
values, except per-installation values (digests, MACs, node usage figures) whose presence, type
and format are checked instead. Where and why each recording was taken: tests/sim/recorded/README.md.
"""

import json
import pathlib
import re

import pytest

from pvesim.testing import ok

pytestmark = pytest.mark.timeout(120)

RECORDED = pathlib.Path(__file__).parent / "recorded"
NODE = "pve"  # every recording is of a one-node installation named "pve"
HEX_DIGEST = re.compile(r"^[0-9a-f]{40}$")
MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
# Per-installation values: their type (and format, where one is given) must match, not the value.
PER_INSTALLATION = {
    "digest": HEX_DIGEST, "mac": MAC,
    "cpu": None, "mem": None, "maxmem": None, "disk": None, "maxdisk": None, "maxcpu": None, "uptime": None,
}
IDENTITY_KEYS = ("id", "zone", "vnet", "controller")


def recording(name):
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def json_type(value):
    """The JSON type a value was sent as (bool before int: True is an int in Python)."""
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                              (list, "array"), (dict, "object"), (type(None), "null")):
        if isinstance(value, python_type):
            return name
    raise TypeError(value)


def identity(entry):
    return next((entry[key] for key in IDENTITY_KEYS if key in entry), None)


def pair_entries(recorded, simulated):
    """Recorded entries with the simulator's entry of the same id (by position for id-less partial entries)."""
    by_id = {identity(entry): entry for entry in simulated}
    pairs = []
    for position, entry in enumerate(recorded):
        key = identity(entry)
        if key is None:
            assert len(recorded) == len(simulated), "an id-less entry can only be paired by position"
            pairs.append((entry, simulated[position]))
        else:
            assert key in by_id, "PVE lists %r, pvesim does not (pvesim: %s)" % (key, sorted(by_id, key=str))
            pairs.append((entry, by_id[key]))
    return pairs


def compare_value(path, recorded, simulated):
    assert json_type(simulated) == json_type(recorded), "%s: PVE sends %s %r, pvesim %s %r" % (
        path, json_type(recorded), recorded, json_type(simulated), simulated)
    key = path.rsplit(".", 1)[-1]
    if key in PER_INSTALLATION:
        pattern = PER_INSTALLATION[key]
        assert pattern is None or recorded is None or pattern.match(simulated), "%s: %r is not of the form of %r" % (
            path, simulated, recorded)
    elif isinstance(recorded, dict):
        compare_entry(path, recorded, simulated, partial=False)
    else:
        assert simulated == recorded, "%s: PVE sends %r, pvesim %r" % (path, recorded, simulated)


def compare_entry(path, recorded, simulated, partial):
    """Same keys (a partial recording: its keys at least), then each value."""
    if partial:
        missing = sorted(set(recorded) - set(simulated))
        assert not missing, "%s: keys PVE sends and pvesim does not: %s" % (path, missing)
    else:
        assert sorted(simulated) == sorted(recorded), "%s: PVE sends keys %s, pvesim %s" % (path, sorted(recorded), sorted(simulated))
    for key in recorded:
        compare_value("%s.%s" % (path, key), recorded[key], simulated[key])


def compare(document, simulated):
    recorded = document["response"]
    partial = document.get("partial", False)
    assert json_type(simulated) == json_type(recorded)
    if not partial:
        assert sorted(map(identity, simulated), key=str) == sorted(map(identity, recorded), key=str)
    for entry, counterpart in pair_entries(recorded, simulated):
        compare_entry(str(identity(entry)), entry, counterpart, partial)


def replay(api, document, version):
    request = document["request"]
    assert request["method"] == "GET"
    simulated = api.data("GET", request["path"], params=request["params"])
    try:
        compare(document, simulated)
    except AssertionError as error:
        raise AssertionError("PVE %s, %s %s: %s\npvesim answered: %s" % (
            version, request["path"], request["params"], error, json.dumps(simulated))) from error


# -- the objects each recording shows ----------------------------------------------------------------
def community_proxmox_objects(api):
    """The zones, vnets and subnets of the community.proxmox fixtures (one installation)."""
    ok(api, "POST", "/cluster/sdn/zones", zone="ans1", type="simple", ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/zones", zone="lab", type="vlan", bridge="vmbr100", ipam="pve")
    ok(api, "POST", "/cluster/sdn/zones", zone="test1", type="simple", ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="lab", zone="lab", tag=100)
    ok(api, "POST", "/cluster/sdn/vnets", vnet="test", zone="ans1", alias="test1", **{"isolate-ports": 1})
    ok(api, "POST", "/cluster/sdn/vnets", vnet="test2", zone="test1")
    ok(api, "POST", "/cluster/sdn/vnets/lab/subnets", subnet="10.10.100.0/24", type="subnet", snat=1)
    ok(api, "POST", "/cluster/sdn/vnets/test/subnets", subnet="10.10.2.0/24", type="subnet", snat=1, **{"dhcp-range": [
        "start-address=10.10.2.5,end-address=10.10.2.15", "start-address=10.10.2.20,end-address=10.10.2.40"]})
    for network in ("10.10.0", "10.10.1"):
        gateway = network + (".1" if network == "10.10.0" else ".0")
        ok(api, "POST", "/cluster/sdn/vnets/test2/subnets", subnet=network + ".0/24", type="subnet", gateway=gateway,
           **{"dhcp-range": "start-address=%s.5,end-address=%s.50" % (network, network)})


def community_proxmox_snat0_objects(api):
    """test_proxmox_subnet.py's installation: one vnet `test` in zone `ans1`, a subnet with snat 0."""
    ok(api, "POST", "/cluster/sdn/zones", zone="ans1", type="simple", ipam="pve", dhcp="dnsmasq")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="test", zone="ans1")
    ok(api, "POST", "/cluster/sdn/vnets/test/subnets", subnet="10.10.2.0/24", type="subnet", snat=0, **{"dhcp-range": [
        "start-address=10.10.2.5,end-address=10.10.2.25", "start-address=10.10.2.50,end-address=10.10.2.100"]})


def evpn_zone_with_deleted_options(api):
    """bpg PR 2501: an applied EVPN zone whose exit-node options were then deleted (not yet applied)."""
    ok(api, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers="192.0.2.1")
    ok(api, "POST", "/cluster/sdn/zones", zone="evpnzone", type="evpn", controller="evpnctl", ipam="pve", mac="BC:24:11:D5:D3:EE",
       exitnodes=NODE, **{"vrf-vxlan": 77, "advertise-subnets": 1, "exitnodes-local-routing": 1})
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "PUT", "/cluster/sdn/zones/evpnzone", delete="exitnodes,exitnodes-local-routing,advertise-subnets")


def without_storages(api):
    """A fresh installation (no SDN zone of its own) whose recording was trimmed of its storage entries:
    the simulator's default storages are removed likewise."""
    for storage in ("local", "local-zfs"):
        ok(api, "DELETE", "/storage/%s" % storage)


BOTH = ("8.4", "9.1")  # the recording does not say which major version it is from
CASES = [
    ("community-proxmox-zones.json", BOTH, community_proxmox_objects),
    ("community-proxmox-vnets.json", BOTH, community_proxmox_objects),
    ("community-proxmox-subnets-lab.json", BOTH, community_proxmox_objects),
    ("community-proxmox-subnets-test.json", BOTH, community_proxmox_objects),
    ("community-proxmox-subnets-test2.json", BOTH, community_proxmox_objects),
    ("community-proxmox-subnets-snat0.json", BOTH, community_proxmox_snat0_objects),
    ("bpg-terraform-zones-pending.json", ("9.1",), evpn_zone_with_deleted_options),
    ("proxmoxve-ha-cluster-resources.json", ("8.4",), without_storages),
]


# Deviations that need a change outside the SDN read views; strict, so fixing one makes its test fail here.
KNOWN_DEVIATIONS = {}


def known_deviation(name):
    reason = KNOWN_DEVIATIONS.get(name)
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)] if reason else []


@pytest.mark.parametrize("name,version,setup", [
    pytest.param(name, version, setup, id="%s-%s" % (name[:-len(".json")], version), marks=known_deviation(name))
    for name, versions, setup in CASES for version in versions])
def test_pvesim_answers_like_the_recorded_pve(name, version, setup, sim_factory, api_session):
    document = recording(name)
    api = api_session(sim_factory(version=version, nodes=(NODE,)))
    setup(api)
    replay(api, document, version)


def test_every_recording_is_replayed_and_well_formed():
    """A recording added to the directory without a case here would silently pin nothing."""
    assert sorted(path.name for path in RECORDED.glob("*.json")) == sorted(name for name, _versions, _setup in CASES)
    for name, _versions, _setup in CASES:
        document = recording(name)
        assert {"source", "pve_version", "request", "response"} <= set(document), name
        assert name in (RECORDED / "README.md").read_text(encoding="utf-8"), name


def test_the_comparison_catches_a_number_sent_as_a_string():
    """The check this file exists for: "24" and 24 are different answers."""
    document = {"request": {}, "response": [{"id": "z-10.0.0.0-24", "mask": "24"}]}
    compare(document, [{"id": "z-10.0.0.0-24", "mask": "24"}])
    with pytest.raises(AssertionError, match="PVE sends string '24', pvesim integer 24"):
        compare(document, [{"id": "z-10.0.0.0-24", "mask": 24}])
    with pytest.raises(AssertionError, match="keys"):
        compare(document, [{"id": "z-10.0.0.0-24", "mask": "24", "digest": None}])
