# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SDN benchmark: homecloud.proxmox's tenant_network playbook against community.proxmox's SDN modules.

Against the simulator (pvesim) with injected latency per request, both sides converge the
topology of benchmarks/inventory (20 tenants x 3 VNets x 1 subnet, plus the shared-services
zone), then run again. Per run it records the simulator's request counters, the Ansible task
results and the wall time, checks our re-run against its request budget, compares the end
states of both sides and writes a Markdown table to stdout and benchmarks/results/latest.md.

    make bench                      # or: python benchmarks/run.py [--versions 9.1,8.4] [--latency-ms 20]

community.proxmox comes from PyPI's `ansible` package, downloaded into .build/bench (see
fetch_community_proxmox); nothing of it is committed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH_DIR = os.path.join(ROOT, "benchmarks")
BUILD = os.path.join(ROOT, ".build", "bench")
WHEELS = os.path.join(BUILD, "wheel")
THEIR_COLLECTIONS = os.path.join(BUILD, "collections")
THEIR_STAMP = os.path.join(THEIR_COLLECTIONS, "SOURCE.json")
OUR_COLLECTIONS = os.path.join(ROOT, ".build", "collections")
INVENTORY = os.path.join(BENCH_DIR, "inventory")
OUR_PLAYBOOK = os.path.join(ROOT, "playbooks", "tenant_network.yml")
THEIR_PLAYBOOK = os.path.join(BENCH_DIR, "community_proxmox_sdn.yml")
RESULTS = os.path.join(BENCH_DIR, "results", "latest.md")

COLLECTION_PREFIX = "ansible_collections/community/proxmox/"
REQUIRED_MODULES = ("proxmox_zone", "proxmox_vnet", "proxmox_subnet")
MAX_RELEASES_TRIED = 5          # newest `ansible` releases looked into for the SDN modules
PIP_TIMEOUT = 600               # seconds for one pip call
START_TIMEOUT = 30              # seconds the simulator gets to write its port and certificate files
STOP_TIMEOUT = 10               # seconds between SIGTERM and SIGKILL
HTTP_TIMEOUT = 30               # seconds for one call to the simulator
PLAY_TIMEOUT = 1800             # seconds one ansible-playbook run may take
NODES = ("pve1", "pve2", "pve3")
TOKEN_USER, TOKEN_NAME = "root@pam", "homecloud"
RUNS = ("first", "re-run")
SIDES = (("ours", "homecloud.proxmox", OUR_PLAYBOOK), ("theirs", "community.proxmox", THEIR_PLAYBOOK))
# Lines of the default stdout callback that stand for one task result (one per loop item).
RESULT_LINE = re.compile(r"^(ok|changed|failed|fatal|skipping): \[[^\]]+\]")
WRITE_METHODS = ("POST", "PUT", "DELETE")
# Failures already analysed (benchmarks/README.md, "Findings"): a substring of the task's msg and what it means.
DIAGNOSES = (
    ("Failed to acquire global sdn lock", "community.proxmox's fault on PVE 8.x: its SDN modules always call "
     "`POST /cluster/sdn/lock`, which exists from PVE 9.0 only (community.proxmox issue #252); the simulator answers "
     "501 like PVE 8.4."),
)


class BenchError(Exception):
    """A step of the benchmark that cannot go on."""


# -- community.proxmox from PyPI's `ansible` ------------------------------------------------------------------------------

def pip(*args):
    """Run the venv's pip (the Python that runs this script); returns CompletedProcess."""
    command = [sys.executable, "-m", "pip"] + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)


def ansible_releases():
    """`ansible` releases that this Python can install, newest first (pip filters on Requires-Python)."""
    answer = pip("index", "versions", "ansible")
    match = re.search(r"^Available versions: (.+)$", answer.stdout, re.MULTILINE)
    if answer.returncode != 0 or not match:
        raise BenchError("pip index versions ansible failed: %s" % (answer.stderr.strip() or answer.stdout.strip())[-500:])
    return [version.strip() for version in match.group(1).split(",")]


def wheel_path(release):
    return os.path.join(WHEELS, "ansible-%s-py3-none-any.whl" % release)


def inspect_wheel(path):
    """(community.proxmox version, missing SDN modules, has ca_path) of the collection inside an `ansible` wheel."""
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        manifest = json.loads(wheel.read(COLLECTION_PREFIX + "MANIFEST.json"))
        missing = [name for name in REQUIRED_MODULES if COLLECTION_PREFIX + "plugins/modules/%s.py" % name not in names]
        utils = COLLECTION_PREFIX + "plugins/module_utils/proxmox.py"
        has_ca_path = utils in names and "ca_path=" in wheel.read(utils).decode("utf-8", "replace")
    return manifest["collection_info"]["version"], missing, has_ca_path


def extract_collection(path):
    """Unzip only ansible_collections/community/proxmox/** into .build/bench/collections."""
    target = os.path.join(THEIR_COLLECTIONS, COLLECTION_PREFIX)
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.makedirs(THEIR_COLLECTIONS, exist_ok=True)
    with zipfile.ZipFile(path) as wheel:
        for member in wheel.namelist():
            if member.startswith(COLLECTION_PREFIX) and not member.endswith("/"):
                wheel.extract(member, THEIR_COLLECTIONS)


def read_stamp():
    try:
        with open(THEIR_STAMP) as handle:
            stamp = json.load(handle)
    except (OSError, ValueError):
        return None
    modules = os.path.join(THEIR_COLLECTIONS, COLLECTION_PREFIX, "plugins", "modules")
    if all(os.path.exists(os.path.join(modules, name + ".py")) for name in REQUIRED_MODULES):
        return stamp
    return None


def fetch_community_proxmox():
    """The newest `ansible` release this Python can install whose community.proxmox has the SDN modules, unpacked.

    Idempotent: a release already unpacked (SOURCE.json stamp) is reused; without an index (offline)
    the unpacked copy is used as it is.
    """
    stamp = read_stamp()
    try:
        releases = ansible_releases()
    except (BenchError, subprocess.TimeoutExpired) as error:
        if stamp:
            stamp["note"] = "package index not reachable (%s); used the copy unpacked before" % error
            return stamp
        raise
    skipped = []
    for release in releases[:MAX_RELEASES_TRIED]:
        if stamp and stamp["ansible"] == release:
            stamp["skipped"] = skipped
            return stamp
        if not os.path.exists(wheel_path(release)):
            os.makedirs(WHEELS, exist_ok=True)
            answer = pip("download", "--no-deps", "--only-binary=:all:", "-d", WHEELS, "ansible==%s" % release)
            if answer.returncode != 0:
                skipped.append("ansible %s: download failed (%s)" % (release, answer.stderr.strip()[-300:]))
                continue
        version, missing, has_ca_path = inspect_wheel(wheel_path(release))
        if missing:
            skipped.append("ansible %s: community.proxmox %s lacks %s" % (release, version, ", ".join(missing)))
            continue
        extract_collection(wheel_path(release))
        stamp = dict(ansible=release, community_proxmox=version, has_ca_path=has_ca_path, skipped=skipped)
        with open(THEIR_STAMP, "w") as handle:
            json.dump(stamp, handle, indent=1)
        for name in os.listdir(WHEELS):       # keep only the wheel in use (about 50 MB each)
            if name.endswith(".whl") and os.path.join(WHEELS, name) != wheel_path(release):
                os.unlink(os.path.join(WHEELS, name))
        return stamp
    raise BenchError("no ansible release among %s has community.proxmox with %s: %s"
                     % (releases[:MAX_RELEASES_TRIED], ", ".join(REQUIRED_MODULES), "; ".join(skipped)))


# -- the simulator ----------------------------------------------------------------------------------------------------

class Simulator():
    """pvesim in its own process on 127.0.0.1, with its side channel and the API through its token."""

    def __init__(self, version, workdir):
        self.version = version
        self.workdir = workdir
        self.process = None
        self.port = None
        self.cert = os.path.join(workdir, "pve-ssl.pem")
        self.log = os.path.join(workdir, "pvesim.log")
        self.context = None
        sys.path.insert(0, ROOT)
        from pvesim.auth import DEMO_TOKEN_SECRET  # pylint: disable=import-outside-toplevel
        self.token_secret = DEMO_TOKEN_SECRET

    def start(self):
        port_file = os.path.join(self.workdir, "port")
        command = [sys.executable, "-m", "pvesim", "--pve-version", self.version, "--nodes", ",".join(NODES),
                   "--bind", "127.0.0.1", "--port", "0", "--port-file", port_file, "--cert-file", self.cert]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not (os.path.getsize(port_file) if os.path.exists(port_file) else 0) or not os.path.exists(self.cert):
            if self.process.poll() is not None:
                raise BenchError("the simulator exited (%s) before it was ready; see %s" % (self.process.returncode, self.log))
            if time.monotonic() > deadline:
                raise BenchError("the simulator did not write %s within %d s" % (port_file, START_TIMEOUT))
            time.sleep(0.1)
        with open(port_file) as handle:
            self.port = int(handle.read().strip())
        self.context = ssl.create_default_context(cafile=self.cert)

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; only our own process, by its PID."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def call(self, method, path, data=None, api=False):
        """One HTTPS call: the side channel (JSON body) or, with api=True, /api2/json with the token (form body)."""
        url = "https://127.0.0.1:%d%s%s" % (self.port, "/api2/json" if api else "", path)
        headers = {}
        body = None
        if api:
            headers["Authorization"] = "PVEAPIToken=%s!%s=%s" % (TOKEN_USER, TOKEN_NAME, self.token_secret)
            if data:
                body = urllib.parse.urlencode(data).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=HTTP_TIMEOUT) as answer:
                return json.load(answer).get("data")
        except urllib.error.HTTPError as error:
            raise BenchError("%s %s: %s %s %s" % (method, path, error.code, error.reason, error.read()[:500])) from error

    def reset(self, latency_ms):
        """Empty state, counters and logs; then the latency again (a reset clears it too)."""
        self.call("POST", "/_sim/reset")
        self.call("PUT", "/_sim/latency", {"ms": latency_ms})

    def counters(self):
        return self.call("GET", "/_sim/counters")

    def environment(self, collections):
        """Environment of an ansible-playbook run against this simulator."""
        env = dict((key, value) for key, value in os.environ.items()
                   if not key.startswith(("PROXMOX_", "ANSIBLE_")) and key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
        env.update(PROXMOX_HOST="127.0.0.1", PROXMOX_PORT=str(self.port), PROXMOX_USER=TOKEN_USER,
                   PROXMOX_TOKEN_ID=TOKEN_NAME, PROXMOX_TOKEN_SECRET=self.token_secret, PROXMOX_CA_PATH=self.cert,
                   ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(collections), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_RETRY_FILES_ENABLED="false")
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        return env


# -- inventory, runs, counting ----------------------------------------------------------------------------------------

def load_inventory():
    """(EVPN controller as the playbook builds it, number of zones, number of VNets) from benchmarks/inventory."""
    def load(*parts):
        with open(os.path.join(INVENTORY, *parts)) as handle:
            return yaml.safe_load(handle)
    hosts = load("hosts.yml")
    plan = load("group_vars", "all", "network_plan.yml")
    tenants = load("group_vars", "all", "tenants.yml")["homecloud_tenants"]
    nodes = hosts["all"]["children"]["pve_nodes"]["hosts"]
    controller = dict(plan["homecloud_evpn_controller"], peers=[nodes[name]["underlay_address"] for name in nodes])
    shared = plan["homecloud_network_plan"].get("shared_services")
    zones = len(tenants) + (1 if shared else 0)
    vnets = sum(len(tenant.get("vnets", [])) for tenant in tenants) + (len(shared.get("vnets", [])) if shared else 0)
    return controller, zones, vnets


def create_controller(sim, controller):
    """The EVPN controller for community.proxmox (it has no module for it): lock (9.x), create, apply."""
    params = dict((key, ",".join(value) if isinstance(value, list) else value) for key, value in controller.items())
    lock = sim.call("POST", "/cluster/sdn/lock", api=True) if sim.version.startswith("9") else None
    if lock:
        params["lock-token"] = lock
    sim.call("POST", "/cluster/sdn/controllers", params, api=True)
    sim.call("PUT", "/cluster/sdn", {"lock-token": lock} if lock else None, api=True)


def count_results(output):
    """Task results in the default callback's output: one per task and host, one per loop item."""
    counts = dict(tasks=0, changed=0, failed=0, skipped=0)
    for line in output.splitlines():
        match = RESULT_LINE.match(line)
        if not match:
            continue
        status = match.group(1)
        if status == "skipping":
            counts["skipped"] += 1
            continue
        counts["tasks"] += 1
        if status == "changed":
            counts["changed"] += 1
        elif status in ("failed", "fatal"):
            counts["failed"] += 1
    return counts


def counter_delta(before, after):
    """Requests between two /_sim/counters snapshots, by kind.

    by_path counts every request, also those without a schema route (a 501 for a call the release
    does not have); by_route only the routed ones; by_status every answer's status code.
    """
    def delta(key):
        changed = dict((name, after[key].get(name, 0) - before[key].get(name, 0)) for name in after[key])
        return dict((name, count) for name, count in changed.items() if count)
    paths, statuses = delta("by_path"), delta("by_status")
    return dict(
        requests=after["total"] - before["total"],
        gets=sum(count for path, count in paths.items() if path.startswith("GET ")),
        writes=after["writes"] - before["writes"],
        applies=after["sdn_applies"] - before["sdn_applies"],
        locks=paths.get("POST /cluster/sdn/lock", 0) + paths.get("DELETE /cluster/sdn/lock", 0),
        rollbacks=paths.get("POST /cluster/sdn/rollback", 0),
        routes=delta("by_route"),
        errors=dict(("HTTP %s" % status, count) for status, count in statuses.items() if not status.startswith("2")),
    )


def run_playbook(sim, playbook, collections, extra_vars, log_path):
    """One ansible-playbook run; returns a result row (counters, task results, wall time, rc, failure lines)."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", INVENTORY, playbook]
    for key, value in extra_vars.items():
        command += ["-e", "%s=%s" % (key, value)]
    before = sim.counters()
    load = os.getloadavg()[0]
    started = time.monotonic()
    try:
        process = subprocess.run(command, cwd=ROOT, env=sim.environment(collections), capture_output=True, text=True,
                                 timeout=PLAY_TIMEOUT, check=False)
        returncode, output = process.returncode, process.stdout + process.stderr
    except subprocess.TimeoutExpired as error:
        partial = error.stdout or b""
        returncode, output = "timeout", partial.decode("utf-8", "replace") if isinstance(partial, bytes) else partial
    wall = time.monotonic() - started
    after = sim.counters()
    with open(log_path, "w") as handle:
        handle.write(output)
    row = dict(counter_delta(before, after), **count_results(output))
    row.update(rc=returncode, wall=wall, log=log_path, failures=failure_summary(output), load=load)
    return row


# -- end state --------------------------------------------------------------------------------------------------------

def normalise(objects, drop=("digest", "mac")):
    return sorted((dict((key, value) for key, value in entry.items() if key not in drop) for entry in objects),
                  key=lambda entry: json.dumps(entry, sort_keys=True))


def end_state(sim):
    """Running SDN config (zones, VNets, subnets, controllers) without digests and the random anycast `mac`."""
    state = {}
    for collection in ("zones", "vnets", "controllers"):
        state[collection] = normalise(sim.call("GET", "/cluster/sdn/%s?running=1" % collection, api=True))
    subnets = []
    for vnet in state["vnets"]:
        subnets += sim.call("GET", "/cluster/sdn/vnets/%s/subnets?running=1" % vnet["vnet"], api=True)
    state["subnets"] = normalise(subnets)
    return state


def default_equivalent(one, other):
    """An option absent on one side and 0/false/empty on the other: PVE's default either way."""
    return (one is None and other in (0, False, "", [])) or (other is None and one in (0, False, "", []))


def shown(value):
    return "absent" if value is None else json.dumps(value)


def compare_states(ours, theirs):
    """(differences, default-only differences) between two end states, as grouped lines with counts."""
    keys = {"zones": "zone", "vnets": "vnet", "subnets": "subnet", "controllers": "controller"}
    differences, defaults = {}, {}
    for collection, key in keys.items():
        mine = dict((entry.get(key), entry) for entry in ours[collection])
        other = dict((entry.get(key), entry) for entry in theirs[collection])
        for side, missing in (("ours", sorted(set(mine) - set(other))), ("theirs", sorted(set(other) - set(mine)))):
            if missing:
                differences["%s only in %s: %s%s" % (collection, side, ", ".join(missing[:5]), ", ..." if len(missing) > 5 else "")] = len(missing)
        for object_id in sorted(set(mine) & set(other)):
            for option in sorted(set(mine[object_id]) | set(other[object_id])):
                one, two = mine[object_id].get(option), other[object_id].get(option)
                if one == two:
                    continue
                text = "%s `%s`: ours %s, theirs %s" % (collection, option, shown(one), shown(two))
                target = defaults if default_equivalent(one, two) else differences
                target[text] = target.get(text, 0) + 1
    return grouped(differences), grouped(defaults)


def grouped(groups):
    return ["%s (%d object(s))" % (text, count) for text, count in sorted(groups.items())]


def failure_summary(output):
    """The `msg` of every failed task result, grouped: {msg: count}."""
    messages = {}
    for line in output.splitlines():
        if not line.startswith(("failed:", "fatal:")):
            continue
        message = line
        if "=> {" in line:
            try:
                message = json.loads(line[line.index("=> {") + 3:]).get("msg", line)
            except ValueError:
                pass
        messages[message] = messages.get(message, 0) + 1
    return messages


# -- one PVE version --------------------------------------------------------------------------------------------------

def bench_version(version, latency_ms, community, topology):
    """Both sides, first run and re-run each, against one simulator of `version` reset between the sides."""
    controller, _zones, vnets = topology
    logs = os.path.join(BUILD, "runs", version)
    os.makedirs(logs, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="homecloud-bench-")
    sim = Simulator(version, workdir)
    result = dict(version=version, rows={}, notes=[], states={})
    try:
        sim.start()
        print("bench: PVE %s simulator (pid %d) on https://127.0.0.1:%d, %d ms per request"
              % (version, sim.process.pid, sim.port, latency_ms), flush=True)
        for side, label, playbook in SIDES:
            sim.reset(latency_ms)
            collections = [OUR_COLLECTIONS]
            extra_vars = {}
            if side == "theirs":
                collections.append(THEIR_COLLECTIONS)
                before = sim.counters()
                create_controller(sim, controller)
                setup = counter_delta(before, sim.counters())
                result["notes"].append("community.proxmox has no controller module: before its first run the script created the "
                                       "EVPN controller `%s` with raw API calls (%s; %d request(s), %d apply), not counted in the table."
                                       % (controller["controller"], ", ".join(sorted(setup["routes"])), setup["requests"], setup["applies"]))
                if community.get("has_ca_path"):
                    extra_vars["bench_community_ca_path"] = sim.cert
            for run in RUNS:
                print("bench: PVE %s, %s (%s), %s ..." % (version, label, os.path.relpath(playbook, ROOT), run), flush=True)
                row = run_playbook(sim, playbook, collections, extra_vars, os.path.join(logs, "%s-%s.log" % (side, run)))
                result["rows"][(side, run)] = row
                print("bench:   rc %s, %d requests, %d writes, %d applies, %d task results, %.1f s"
                      % (row["rc"], row["requests"], row["writes"], row["applies"], row["tasks"], row["wall"]), flush=True)
            result["states"][side] = end_state(sim)
        rewritten = result["rows"][("theirs", "re-run")]["routes"].get("PUT /cluster/sdn/vnets/{vnet}/subnets/{subnet}", 0)
        if rewritten:
            result["notes"].append(
                "community.proxmox's re-run rewrote and applied %d unchanged subnet(s): a simulator deviation. pvesim answers "
                "`GET /cluster/sdn/vnets/{vnet}/subnets` with `\"mask\": 24` (integer) where PVE returns the string `\"24\"` "
                "(Perl `split` of the subnet id), so proxmox_subnet's comparison with its own `'24'` differs. See benchmarks/README.md."
                % rewritten)
        result["differences"], result["defaults"] = compare_states(result["states"]["ours"], result["states"]["theirs"])
        result["budget"] = budget_check(result["rows"][("ours", "re-run")], vnets)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def budget_check(row, vnets):
    """Our no-op re-run: at most one GET per collection (zones, VNets, controllers) + one per VNet for subnets, no write."""
    routes = row["routes"]
    collections = dict((name, routes.get("GET /cluster/sdn/%s" % name, 0)) for name in ("zones", "vnets", "controllers"))
    subnet_reads = routes.get("GET /cluster/sdn/vnets/{vnet}/subnets", 0)
    limit = 3 + vnets
    sdn_reads = sum(collections.values()) + subnet_reads
    others = dict((route, count) for route, count in routes.items()
                  if route not in ("GET /cluster/sdn/zones", "GET /cluster/sdn/vnets", "GET /cluster/sdn/controllers",
                                   "GET /cluster/sdn/vnets/{vnet}/subnets"))
    passed = (all(count <= 1 for count in collections.values()) and subnet_reads <= vnets and not row["writes"]
              and not row["applies"] and row["requests"] <= limit and row["rc"] == 0)
    line = ("budget (ours, re-run): %d requests <= %d allowed (1 GET each for zones, VNets, controllers + 1 per VNet x %d): "
            "zones %d, vnets %d, controllers %d, subnets %d, writes %d, applies %d%s: %s"
            % (row["requests"], limit, vnets, collections["zones"], collections["vnets"], collections["controllers"], subnet_reads,
               row["writes"], row["applies"], "; other requests: %s" % others if others else "", "PASS" if passed else "FAIL"))
    return dict(passed=passed, line=line, sdn_reads=sdn_reads)


# -- report -----------------------------------------------------------------------------------------------------------

def ratio(theirs, ours, mark=""):
    """theirs / ours as `4.7x`; `21 vs 0` when ours is 0; `mark` flags a run in which a side failed."""
    if not ours:
        return ("%s vs 0" % theirs if theirs else "=") + mark
    return "%.1fx%s" % (float(theirs) / ours, mark)


def markdown(results, community, latency_ms, started, topology):
    lines = ["# SDN benchmark: homecloud.proxmox vs community.proxmox", ""]
    _controller, zones, vnets = topology
    lines += [
        "Generated by `make bench` (benchmarks/run.py) on %s; Python %s, ansible-core %s." % (
            started.strftime("%Y-%m-%d %H:%M UTC"), platform.python_version(), ansible_core_version()),
        "",
        "- Topology (benchmarks/inventory): 1 EVPN controller, %s EVPN zones (20 tenants + shared services), %s VNets, "
        "%s subnets (1 per VNet), planned by `homecloud.proxmox.tenant_plan` for both sides." % (zones, vnets, vnets),
        "- Simulator: pvesim, 3 nodes, %d ms injected latency per API request, fresh state (`POST /_sim/reset`) per side." % latency_ms,
        "- Ours: `ansible-playbook -i benchmarks/inventory playbooks/tenant_network.yml` (one `tenant_network` task).",
        "- Theirs: `ansible-playbook -i benchmarks/inventory benchmarks/community_proxmox_sdn.yml`: community.proxmox %s "
        "(from PyPI `ansible` %s, the newest release this Python can install that has %s), one looped task per object kind."
        % (community["community_proxmox"], community["ansible"], ", ".join(REQUIRED_MODULES)),
        "- requests: every `/api2` request the simulator answered; writes: POST/PUT/DELETE; applies: `PUT /cluster/sdn` "
        "(`sdn_applies`); locks: `POST`/`DELETE /cluster/sdn/lock`; task results: `ok`/`changed`/`failed`/`fatal` lines of "
        "the default callback, one per task and one per loop item (skipped not counted); wall: `time.monotonic()` around the "
        "ansible-playbook process; load: the machine's 1-minute load average when the run started (%d CPUs; other "
        "work on the machine slows the wall times)." % (os.cpu_count() or 0),
        "",
    ]
    for result in results:
        lines += ["## PVE %s" % result["version"], ""]
        if "error" in result:
            lines += ["Not run: %s" % result["error"], ""]
            continue
        lines += ["| side | run | rc | requests | GETs | writes | applies | locks | rollbacks | task results | changed | failed | wall (s) | load |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for side, label, _playbook in SIDES:
            for run in RUNS:
                row = result["rows"].get((side, run))
                if row is None:
                    continue
                lines.append("| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.1f | %.1f |" % (
                    label, run, row["rc"], row["requests"], row["gets"], row["writes"], row["applies"], row["locks"],
                    row["rollbacks"], row["tasks"], row["changed"], row["failed"], row["wall"], row["load"]))
        flagged = False
        for run in RUNS:
            ours, theirs = result["rows"].get(("ours", run)), result["rows"].get(("theirs", run))
            if ours and theirs:
                mark = " (!)" if ours["rc"] != 0 or theirs["rc"] != 0 else ""
                flagged = flagged or bool(mark)
                cells = [ratio(theirs[key], ours[key], mark) for key in ("requests", "gets", "writes", "applies", "tasks", "wall")]
                lines.append("| **theirs / ours** | %s | | **%s** | %s | %s | **%s** | | | %s | | | **%s** | |" % tuple([run] + cells))
        if flagged:
            lines += ["", "(!) a side failed in this run (rc not 0, see below): the ratio compares unequal work."]
        lines += ["", "- " + result["budget"]["line"]]
        lines += end_state_lines(result)
        for side, label, _playbook in SIDES:
            for run in RUNS:
                row = result["rows"].get((side, run))
                if row and row["failures"]:
                    lines.append("- %s %s: rc %s, %d failed task result(s):" % (label, run, row["rc"], sum(row["failures"].values())))
                    for message, count in sorted(row["failures"].items()):
                        lines.append("  - %d x `%s`" % (count, message[:400].replace("`", "'")))
                        lines += ["    - %s" % note for pattern, note in DIAGNOSES if pattern in message]
        lines += ["- " + note for note in result["notes"]]
        lines += ["", "<details><summary>Requests by route (PVE %s)</summary>" % result["version"], "",
                  "| route | " + " | ".join("%s %s" % (label, run) for _side, label, _playbook in SIDES for run in RUNS) + " |",
                  "|---|" + "---:|" * 4]
        for kind in ("routes", "errors"):
            for name in sorted(set(name for row in result["rows"].values() for name in row[kind])):
                lines.append("| %s | %s |" % ("`%s`" % name if kind == "routes" else "answered %s (any route)" % name, " | ".join(
                    str(result["rows"].get((side, run), {}).get(kind, {}).get(name, 0)) for side, _label, _playbook in SIDES for run in RUNS)))
        lines += ["", "</details>", ""]
    skipped = community.get("skipped") or []
    if skipped or community.get("note"):
        lines += ["Releases passed over: %s" % "; ".join(skipped + ([community["note"]] if community.get("note") else [])), ""]
    lines += ["Logs of the last run: .build/bench/runs/<version>/<side>-<run>.log (not committed).", ""]
    return "\n".join(lines)


def end_state_lines(result):
    """The end-state verdict: identical, equivalent (only explicit defaults differ) or differs."""
    what = "end state (running zones, VNets, subnets, controllers; digests and the random `mac` ignored)"
    counts = "%d zones, %d VNets, %d subnets, %d controller(s)" % tuple(
        len(result["states"]["ours"][key]) for key in ("zones", "vnets", "subnets", "controllers"))
    if result["differences"]:
        lines = ["- %s: **differs** (ours: %s):" % (what, counts)]
        lines += ["  - " + line for line in result["differences"]]
    elif result["defaults"]:
        lines = ["- %s: **same configuration** (%s); only explicit defaults differ:" % (what, counts)]
    else:
        return ["- %s: **identical** (%s)" % (what, counts)]
    lines += ["  - %s (default-equivalent)" % line for line in result["defaults"]]
    return lines


def ansible_core_version():
    try:
        from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    except ImportError:
        return "?"
    return __version__


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--versions", default="9.1,8.4", help="simulated PVE releases, comma-separated (default 9.1,8.4)")
    parser.add_argument("--latency-ms", type=int, default=20, help="injected latency per API request (default 20)")
    parser.add_argument("--output", default=RESULTS, help="Markdown file written with the results (default %(default)s)")
    args = parser.parse_args(argv)

    if not os.path.isdir(os.path.join(OUR_COLLECTIONS, "ansible_collections", "homecloud", "proxmox")):
        print("bench: %s has no homecloud.proxmox: run `make collection` (make bench does)" % OUR_COLLECTIONS, file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    community = fetch_community_proxmox()
    print("bench: community.proxmox %s from ansible %s in %s" % (community["community_proxmox"], community["ansible"],
                                                                 os.path.relpath(THEIR_COLLECTIONS, ROOT)), flush=True)
    topology = load_inventory()
    results = []
    for version in [value.strip() for value in args.versions.split(",") if value.strip()]:
        try:
            results.append(bench_version(version, args.latency_ms, community, topology))
        except BenchError as error:
            print("bench: PVE %s: %s" % (version, error), file=sys.stderr)
            results.append(dict(version=version, error=str(error)))
    text = markdown(results, community, args.latency_ms, started, topology)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as handle:
        handle.write(text)
    print("bench: results written to %s" % os.path.relpath(os.path.abspath(args.output), ROOT), flush=True)
    return 0 if all("error" not in result for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
