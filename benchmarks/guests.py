# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guest benchmark: homecloud.proxmox's tenant_guests playbook against community.proxmox's proxmox_kvm.

Against the simulator (pvesim) with injected latency per request, both sides converge the guests
of benchmarks/inventory (20 tenants x 5 guests, cloned from one template per node), one
ansible-playbook run per tenant, then run again. Set-up, not counted: the cloud image (registered
with the simulator's side channel, as it has no internet), playbooks/tenant_network.yml (the
VNets), the tenants' pools and playbooks/guest_templates.yml - the same for both sides. Per run
and side it records the simulator's request counters, the Ansible task results and the wall
time, checks our no-op run against the issue's GET budget, compares both sides' guest configs
field by field and writes a Markdown table to stdout and benchmarks/results/guests.md.

    make bench-guests               # or: python benchmarks/guests.py [--versions 9.1,8.4] [--latency-ms 20]

The simulator, the playbook runner, the counting and community.proxmox's download are those of
benchmarks/run.py (the SDN benchmark), imported from there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import datetime
import hashlib
import os
import platform
import shutil
import sys
import tempfile
from urllib.parse import unquote

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
from run import (  # noqa: E402  (run.py of this directory; imported after its path is known)
    BUILD, COLLECTION_PREFIX, INVENTORY, OUR_COLLECTIONS, ROOT, THEIR_COLLECTIONS,
    BenchError, Simulator, ansible_core_version, fetch_community_proxmox, ratio, run_playbook,
)

BENCH_DIR = os.path.join(ROOT, "benchmarks")
OUR_PLAYBOOK = os.path.join(ROOT, "playbooks", "tenant_guests.yml")
THEIR_PLAYBOOK = os.path.join(BENCH_DIR, "community_proxmox_guests.yml")
NETWORK_PLAYBOOK = os.path.join(ROOT, "playbooks", "tenant_network.yml")
TEMPLATES_PLAYBOOK = os.path.join(ROOT, "playbooks", "guest_templates.yml")
RESULTS = os.path.join(BENCH_DIR, "results", "guests.md")
LOGS = os.path.join(BUILD, "runs", "guests")
SIDES = (("ours", "homecloud.proxmox", OUR_PLAYBOOK), ("theirs", "community.proxmox", THEIR_PLAYBOOK))
RUNS = ("first", "re-run")
THEIR_MODULES = ("plugins/modules/proxmox_kvm.py", "plugins/modules/proxmox_disk.py")

# The stand-in for the cloud image: the simulator serves these bytes under the inventory's URL
# (POST /_sim/storage/images); the inventory names their sha256, checked before the set-up.
IMAGE_TEXT = "homecloud benchmark stand-in for the Debian 12 generic cloud image"
IMAGE_VIRTUAL_SIZE = 2 * 1024 ** 3

# The budget for a no-op run: "<= a handful of GETs per node plus one per guest config".
# A handful is 5; per tenant run: 5 x nodes + 1 x the tenant's guests, and no write.
HANDFUL = 5

KEYS = ("requests", "gets", "writes", "tasks", "changed", "failed", "wall")
# Guest config fields compared between the sides (after `fields`).
COMPARED = ("node", "status", "pool", "name", "cores", "memory", "net0 model", "net0 mac", "net0 bridge", "net0 firewall",
            "ipconfig0", "ciuser", "sshkeys", "nameserver", "searchdomain", "tags", "scsi0 size", "pending")


class Inventory():
    """What the benchmark needs of benchmarks/inventory: tenants, guests per tenant, nodes, the image."""

    def __init__(self, tenant_limit=None):
        def load(*parts):
            with open(os.path.join(INVENTORY, *parts), encoding="utf-8") as handle:
                return yaml.safe_load(handle)
        hosts = load("hosts.yml")
        guests = load("group_vars", "all", "guests.yml")
        tenants = load("group_vars", "all", "tenants.yml")["homecloud_tenants"]
        self.nodes = sorted(hosts["all"]["children"]["pve_nodes"]["hosts"])
        self.tenants = [tenant["name"] for tenant in tenants][:tenant_limit]
        self.guests_per_tenant = len(guests["bench_tenant_guests"])
        self.image = guests["homecloud_guest_image"]
        self.templates = guests["homecloud_guest_templates"]
        algorithm, digest = self.image["checksum"].split(":", 1)
        actual = hashlib.new(algorithm, IMAGE_TEXT.encode("utf-8")).hexdigest()
        if actual != digest:
            raise BenchError("the inventory's image checksum %s is not the stand-in's (%s:%s): update one of them"
                             % (self.image["checksum"], algorithm, actual))

    @property
    def guests(self):
        return len(self.tenants) * self.guests_per_tenant

    def template_vmids(self):
        return [self.templates["vmid_base"] + index + 1 for index in range(len(self.nodes))]


# -- set-up (not counted) ---------------------------------------------------------------------------------------------

def set_up(sim, inventory, side, latency_ms):
    """Empty simulator, the image, the VNets, the pools and the templates; then the latency. Returns the set-up rows."""
    sim.reset(0)
    sim.call("POST", "/_sim/storage/images",
             {"url": inventory.image["url"], "content": IMAGE_TEXT, "virtual_size": IMAGE_VIRTUAL_SIZE})
    for tenant in inventory.tenants:
        sim.call("POST", "/pools", {"poolid": tenant}, api=True)
    rows = {}
    for name, playbook in (("network", NETWORK_PLAYBOOK), ("templates", TEMPLATES_PLAYBOOK)):
        row = run_playbook(sim, playbook, [OUR_COLLECTIONS], {}, os.path.join(LOGS, sim.version, "%s-setup-%s.log" % (side, name)))
        rows[name] = row
        if row["rc"] != 0:
            raise BenchError("set-up %s (%s) failed, rc %s: %s; see %s" % (
                name, os.path.relpath(playbook, ROOT), row["rc"], "; ".join(sorted(row["failures"]))[:600], row["log"]))
    resources = sim.call("GET", "/cluster/resources?type=vm", api=True)
    templates = sorted(entry["vmid"] for entry in resources if entry.get("template"))
    if templates != inventory.template_vmids():
        raise BenchError("set-up: templates %s after guest_templates.yml, expected %s" % (templates, inventory.template_vmids()))
    sim.call("PUT", "/_sim/latency", {"ms": latency_ms})
    return rows


# -- the measured runs ------------------------------------------------------------------------------------------------

def run_tenants(sim, inventory, side, playbook, run, extra_vars):
    """One ansible-playbook run per tenant; returns (total row, {tenant: row})."""
    collections = [OUR_COLLECTIONS] + ([THEIR_COLLECTIONS] if side == "theirs" else [])
    per_tenant = {}
    for tenant in inventory.tenants:
        variables = dict(extra_vars, homecloud_tenant=tenant)
        per_tenant[tenant] = run_playbook(sim, playbook, collections, variables,
                                          os.path.join(LOGS, sim.version, "%s-%s-%s.log" % (side, run, tenant)))
    return total(per_tenant.values()), per_tenant


def total(rows):
    """The sum of per-tenant rows: counts, routes, errors and failures added up; rc the worst; load the first."""
    rows = list(rows)
    result = dict((key, sum(row[key] for row in rows)) for key in KEYS)
    for kind in ("routes", "errors", "failures"):
        merged = {}
        for row in rows:
            for name, count in row[kind].items():
                merged[name] = merged.get(name, 0) + count
        result[kind] = merged
    failed = [row["rc"] for row in rows if row["rc"] != 0]
    result["rc"] = failed[0] if failed else 0
    result["failed_runs"] = len(failed)
    result["load"] = rows[0]["load"] if rows else 0.0
    return result


def budget_check(per_tenant, inventory):
    """Our no-op re-run, per tenant run: at most HANDFUL GETs per node + one per guest config, no write, rc 0."""
    limit = HANDFUL * len(inventory.nodes) + inventory.guests_per_tenant
    worst = max(per_tenant.items(), key=lambda item: item[1]["gets"])
    over = sorted(tenant for tenant, row in per_tenant.items() if row["gets"] > limit)
    writes = sum(row["writes"] for row in per_tenant.values())
    failed = sorted(tenant for tenant, row in per_tenant.items() if row["rc"] != 0)
    gets = sum(row["gets"] for row in per_tenant.values())
    passed = not over and not writes and not failed
    line = ("budget (ours, re-run, per tenant run of %d guests on %d nodes): at most %d GETs (%d per node x %d + 1 per guest "
            "config x %d) and no write; the most: %d GETs (%s); %.1f GETs per guest over all %d runs; writes %d%s%s: %s"
            % (inventory.guests_per_tenant, len(inventory.nodes), limit, HANDFUL, len(inventory.nodes), inventory.guests_per_tenant,
               worst[1]["gets"], worst[0], float(gets) / max(inventory.guests, 1), len(per_tenant), writes,
               "; over the budget: %s" % ", ".join(over) if over else "", "; failed runs: %s" % ", ".join(failed) if failed else "",
               "PASS" if passed else "FAIL"))
    return dict(passed=passed, line=line, limit=limit)


# -- end state --------------------------------------------------------------------------------------------------------

def option_map(value):
    """A PVE property string (`virtio=02:..,bridge=x,firewall=1`) as {key: value}; a bare first item under its own name."""
    result = {}
    for part in (value or "").split(","):
        if not part:
            continue
        key, _sep, item = part.partition("=")
        result[key] = item if _sep else True
    return result


def fields(config, resource, pool, pending):
    """The compared fields of one guest: config values, the NIC and disk split up, sshkeys decoded, pending keys."""
    net0 = option_map(config.get("net0"))
    model = [key for key in ("virtio", "e1000", "rtl8139", "vmxnet3") if key in net0]
    scsi0 = option_map(config.get("scsi0"))
    tags = sorted(tag for tag in str(config.get("tags") or "").replace(",", ";").split(";") if tag)
    return {
        "node": resource.get("node"), "status": resource.get("status"), "pool": pool,
        "name": config.get("name"), "cores": int(config.get("cores", 1)), "memory": int(config.get("memory", 512)),
        "net0 model": model[0] if model else None, "net0 mac": net0.get(model[0]).upper() if model else None,
        "net0 bridge": net0.get("bridge"), "net0 firewall": net0.get("firewall"),
        "ipconfig0": config.get("ipconfig0"), "ciuser": config.get("ciuser"),
        "sshkeys": unquote(config["sshkeys"]).strip() if config.get("sshkeys") else None,
        "nameserver": config.get("nameserver"), "searchdomain": config.get("searchdomain"), "tags": ";".join(tags) or None,
        "scsi0 size": scsi0.get("size"), "pending": ",".join(sorted(pending)) or None,
    }


def end_state(sim):
    """{vmid: fields} of every guest that is not a template (read after the counters, so not counted)."""
    pools = {}
    for pool in sim.call("GET", "/pools", api=True):
        for member in sim.call("GET", "/pools/%s" % pool["poolid"], api=True).get("members", []):
            if "vmid" in member:
                pools[member["vmid"]] = pool["poolid"]
    state = {}
    for resource in sim.call("GET", "/cluster/resources?type=vm", api=True):
        if resource.get("template") or resource.get("type") != "qemu":
            continue
        base = "/nodes/%s/qemu/%d" % (resource["node"], resource["vmid"])
        config = sim.call("GET", base + "/config", api=True)
        pending = [entry["key"] for entry in sim.call("GET", base + "/pending", api=True)
                   if "pending" in entry or entry.get("delete")]
        state[resource["vmid"]] = fields(config, resource, pools.get(resource["vmid"]), pending)
    return state


def compare_states(ours, theirs):
    """Differences between the sides' guests: [(text, count)], grouped by field and the two values."""
    groups = {}
    for side, missing in (("ours", sorted(set(ours) - set(theirs))), ("theirs", sorted(set(theirs) - set(ours)))):
        if missing:
            groups["guests only in %s: %s%s" % (side, ", ".join(str(vmid) for vmid in missing[:5]), ", ..." if len(missing) > 5 else "")] = len(missing)
    for vmid in sorted(set(ours) & set(theirs)):
        for field in COMPARED:
            one, two = ours[vmid].get(field), theirs[vmid].get(field)
            if one != two:
                text = "`%s`: ours %s, theirs %s" % (field, shown(one), shown(two))
                groups[text] = groups.get(text, 0) + 1
    return sorted(groups.items())


def shown(value):
    return "absent" if value is None else "`%s`" % str(value).replace("`", "'").replace("\n", "\\n")


# -- one PVE version --------------------------------------------------------------------------------------------------

def bench_version(version, latency_ms, community, inventory):
    """Both sides, first run and re-run each (one run per tenant), each side from its own set-up."""
    os.makedirs(os.path.join(LOGS, version), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="homecloud-bench-guests-")
    sim = Simulator(version, workdir)
    result = dict(version=version, rows={}, tenants={}, setups={}, states={}, errors={})
    try:
        sim.start()
        print("bench: PVE %s simulator (pid %d) on https://127.0.0.1:%d, %d ms per request"
              % (version, sim.process.pid, sim.port, latency_ms), flush=True)
        for side, label, playbook in SIDES:
            extra_vars = {}
            if side == "theirs" and community.get("has_ca_path"):
                extra_vars["bench_community_ca_path"] = sim.cert
            print("bench: PVE %s, %s: set-up (image, VNets, pools, templates; not counted) ..." % (version, label), flush=True)
            try:
                result["setups"][side] = set_up(sim, inventory, side, latency_ms)
            except BenchError as error:
                print("bench:   %s" % error, file=sys.stderr, flush=True)
                result["errors"][side] = str(error)
                continue
            for run in RUNS:
                print("bench: PVE %s, %s (%s), %s, %d tenant runs ..." % (version, label, os.path.relpath(playbook, ROOT), run,
                                                                          len(inventory.tenants)), flush=True)
                row, per_tenant = run_tenants(sim, inventory, side, playbook, run, extra_vars)
                result["rows"][(side, run)], result["tenants"][(side, run)] = row, per_tenant
                print("bench:   rc %s (%d failed runs), %d requests, %d GETs, %d writes, %d task results (%d changed), %.1f s"
                      % (row["rc"], row["failed_runs"], row["requests"], row["gets"], row["writes"], row["tasks"], row["changed"],
                         row["wall"]), flush=True)
            result["states"][side] = end_state(sim)
        if ("ours", "re-run") in result["tenants"]:
            result["budget"] = budget_check(result["tenants"][("ours", "re-run")], inventory)
        if len(result["states"]) == 2:
            result["differences"] = compare_states(result["states"]["ours"], result["states"]["theirs"])
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# -- report -----------------------------------------------------------------------------------------------------------

def markdown(results, community, latency_ms, started, inventory, notes=()):  # pylint: disable=too-many-arguments
    lines = ["# Guest benchmark: homecloud.proxmox vs community.proxmox.proxmox_kvm", "",
             "Generated by `python benchmarks/guests.py` on %s; Python %s, ansible-core %s." % (
                 started.strftime("%Y-%m-%d %H:%M UTC"), platform.python_version(), ansible_core_version()), "",
             "- Guests (benchmarks/inventory): %d tenants x %d = %d guests on %d nodes, each a full clone of its node's template "
             "(VMIDs %s), on its tenant's VNet with the firewall on and the planned MAC, cloud-init (address, gateway, user, "
             "key, DNS), its size's cores, memory and disk, started." % (
                 len(inventory.tenants), inventory.guests_per_tenant, inventory.guests, len(inventory.nodes),
                 ", ".join(str(vmid) for vmid in inventory.template_vmids())),
             "- Simulator: pvesim, %d ms injected latency per API request during the measured runs. Set-up per side, not "
             "counted: `POST /_sim/reset`, the stand-in image (`POST /_sim/storage/images`), one pool per tenant (`POST /pools`), "
             "`playbooks/tenant_network.yml` (VNets), `playbooks/guest_templates.yml` (image download on every node and the "
             "templates) - the same for both sides." % latency_ms,
             "- Ours: `ansible-playbook -i benchmarks/inventory playbooks/tenant_guests.yml -e homecloud_tenant=<t>`, one run "
             "per tenant.",
             "- Theirs: `ansible-playbook -i benchmarks/inventory benchmarks/community_proxmox_guests.yml -e homecloud_tenant=<t>`, "
             "one run per tenant: per guest `proxmox_kvm` clone (vmid, newid, name, node, storage, full), `proxmox_kvm` with "
             "`update: true`, `update_unsafe: true` (cores, memory, net0, ipconfig0, ciuser, sshkeys, nameservers, "
             "searchdomains, tags), `proxmox_disk` `state: resized`, `proxmox_kvm` `state: started`; community.proxmox %s "
             "from PyPI `ansible` %s." % (community["community_proxmox"], community["ansible"]),
             "- Each row sums the %d tenant runs of one pass. requests: every `/api2` request the simulator answered; writes: "
             "POST/PUT/DELETE; task results: `ok`/`changed`/`failed`/`fatal` lines (one per loop item); wall: "
             "`time.monotonic()` around each ansible-playbook process, summed; load: the 1-minute load average when the "
             "pass started (%d CPUs)." % (len(inventory.tenants), os.cpu_count() or 0)]
    lines += ["- **Note**: %s" % note for note in notes] + [""]
    for result in results:
        lines += version_lines(result, inventory)
    skipped = community.get("skipped") or []
    if skipped or community.get("note"):
        lines += ["Releases passed over: %s" % "; ".join(skipped + ([community["note"]] if community.get("note") else [])), ""]
    lines += ["Logs of the last run: .build/bench/runs/guests/<version>/<side>-<run>-<tenant>.log (not committed).", ""]
    return "\n".join(lines)


def version_lines(result, inventory):
    lines = ["## PVE %s" % result["version"], ""]
    if "error" in result:
        return lines + ["Not run: %s" % result["error"], ""]
    lines += ["| side | run | rc | failed runs | requests | GETs | GETs / guest | writes | task results | changed | failed | wall (s) | load |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = result["rows"]
    for side, label, _playbook in SIDES:
        if side in result["errors"]:
            lines.append("| %s | set-up | **failed** | | | | | | | | | | |" % label)
        for run in RUNS:
            row = rows.get((side, run))
            if row:
                lines.append("| %s | %s | %s | %d | %d | %d | %.1f | %d | %d | %d | %d | %.1f | %.1f |" % (
                    label, run, row["rc"], row["failed_runs"], row["requests"], row["gets"], float(row["gets"]) / max(inventory.guests, 1),
                    row["writes"], row["tasks"], row["changed"], row["failed"], row["wall"], row["load"]))
    for run in RUNS:
        ours, theirs = rows.get(("ours", run)), rows.get(("theirs", run))
        if ours and theirs:
            mark = " (!)" if ours["rc"] != 0 or theirs["rc"] != 0 else ""
            lines.append("| **theirs / ours** | %s | | | **%s** | %s | | **%s** | %s | | | **%s** | |" % (
                run, ratio(theirs["requests"], ours["requests"], mark), ratio(theirs["gets"], ours["gets"], mark),
                ratio(theirs["writes"], ours["writes"], mark), ratio(theirs["tasks"], ours["tasks"], mark),
                ratio(theirs["wall"], ours["wall"], mark)))
    lines.append("")
    if "budget" in result:
        lines.append("- " + result["budget"]["line"])
    for side, label, _playbook in SIDES:
        if side in result["errors"]:
            lines.append("- %s: set-up failed, nothing measured: `%s`" % (label, result["errors"][side].replace("`", "'")))
        for run in RUNS:
            row = rows.get((side, run))
            if row and row["failures"]:
                lines.append("- %s %s: %d failed task result(s):" % (label, run, sum(row["failures"].values())))
                lines += ["  - %d x `%s`" % (count, message[:400].replace("`", "'")) for message, count in sorted(row["failures"].items())]
        rerun = rows.get((side, "re-run"))
        if rerun and (rerun["writes"] or rerun["changed"]):
            writes = sorted((route, count) for route, count in rerun["routes"].items() if not route.startswith("GET "))
            lines.append("- %s re-run (nothing to change): %d changed result(s), %d write(s): %s" % (
                label, rerun["changed"], rerun["writes"], ", ".join("`%s` %d" % item for item in writes) or "-"))
    lines += end_state_lines(result)
    lines += ["", "<details><summary>Requests by route (PVE %s, all tenant runs of a pass)</summary>" % result["version"], "",
              "| route | " + " | ".join("%s %s" % (label, run) for _side, label, _playbook in SIDES for run in RUNS) + " |",
              "|---|" + "---:|" * (len(SIDES) * len(RUNS))]
    for kind in ("routes", "errors"):
        for name in sorted(set(name for row in rows.values() for name in row[kind])):
            lines.append("| %s | %s |" % ("`%s`" % name if kind == "routes" else "answered %s (any route)" % name, " | ".join(
                str(rows.get((side, run), {}).get(kind, {}).get(name, 0)) for side, _label, _playbook in SIDES for run in RUNS)))
    lines += ["", "</details>", ""]
    return lines


def end_state_lines(result):
    if len(result["states"]) != 2:
        return ["- end state: not compared (a side did not run)"]
    counts = ", ".join("%s %d guests" % (side, len(result["states"][side])) for side, _label, _playbook in SIDES)
    what = "end state (guest configs field by field: %s)" % ", ".join(COMPARED)
    if not result["differences"]:
        return ["- %s: **identical** (%s)" % (what, counts)]
    return ["- %s: **differs** (%s):" % (what, counts)] + ["  - %s (%d guest(s))" % item for item in result["differences"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--versions", default="9.1,8.4", help="simulated PVE releases, comma-separated (default %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=20, help="injected latency per API request (default %(default)s)")
    parser.add_argument("--tenants", type=int, default=None, help="only the first N tenants of the inventory (a quicker run)")
    parser.add_argument("--output", default=RESULTS, help="Markdown file written with the results (default %(default)s)")
    parser.add_argument("--note", action="append", default=[],
                        help="a line put under the results' header (what was special about this run); repeatable")
    args = parser.parse_args(argv)

    if not os.path.isdir(os.path.join(OUR_COLLECTIONS, "ansible_collections", "homecloud", "proxmox")):
        print("bench: %s has no homecloud.proxmox: run `make collection`" % OUR_COLLECTIONS, file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    inventory = Inventory(args.tenants)
    community = fetch_community_proxmox()
    missing = [name for name in THEIR_MODULES if not os.path.exists(os.path.join(THEIR_COLLECTIONS, COLLECTION_PREFIX, name))]
    if missing:
        print("bench: community.proxmox %s lacks %s" % (community["community_proxmox"], ", ".join(missing)), file=sys.stderr)
        return 2
    print("bench: community.proxmox %s from ansible %s" % (community["community_proxmox"], community["ansible"]), flush=True)
    results = []
    for version in [value.strip() for value in args.versions.split(",") if value.strip()]:
        try:
            results.append(bench_version(version, args.latency_ms, community, inventory))
        except BenchError as error:
            print("bench: PVE %s: %s" % (version, error), file=sys.stderr)
            results.append(dict(version=version, error=str(error)))
    text = markdown(results, community, args.latency_ms, started, inventory, args.note)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print("bench: results written to %s" % os.path.relpath(os.path.abspath(args.output), ROOT), flush=True)
    over = [result["version"] for result in results if "budget" in result and not result["budget"]["passed"]]
    if over:
        print("bench: FAIL: our no-op run exceeded its GET budget on PVE %s (see the budget line)" % ", ".join(over), file=sys.stderr)
        return 1
    return 0 if all("error" not in result and not result["errors"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
