"""FRR per node namespace: a bgpd config derived from the rendered frr.conf (the parts that run without a
kernel VRF), zebra + bgpd started directly in the namespace, bounded waits for the sessions and the type-3
routes, and FRR's own check (`vtysh -C -f`) of the whole rendered file.

Derivation (what pve-network's Controllers/EvpnPlugin.pm writes, see pvesim/sdn_render.py):
kept: header (hostname, frr defaults), `router bgp <asn>` without vrf: router-id, peer group, neighbors,
`address-family l2vpn evpn` with advertise-all-vni and the route-maps/prefix-lists it names.
dropped (each line's kind goes to twin.json frr.dropped): `vrf X` blocks (vni, null routes: need a kernel
VRF), `router bgp <asn> vrf X` blocks (type-5), `import vrf` lines (leaking from the VRF instances), the
address families left empty by that, `neighbor ... bfd` (no bfdd runs here), `service integrated-vtysh-config`
(a vtysh command, not a daemon's).
"""

import json
import os
import pwd
import re
import shutil

from nettwin import shell

ZEBRA = "/usr/lib/frr/zebra"
BGPD = "/usr/lib/frr/bgpd"
# Short timers make the twin's sessions come up (and notice a dead peer) in seconds.
TIMERS = (1, 3)
CONNECT_RETRY = 1


def _blocks(text):
    """Top-level blocks: [(first line, [lines])]; a block runs from an unindented line to the next one."""
    blocks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] not in " \t":
            if line.strip() == "!":
                continue
            if line.strip() in ("exit", "exit-vrf") and blocks:
                blocks[-1][1].append(line)
                continue
            blocks.append((line.strip(), [line]))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


def _strip_router_bgp(lines, dropped):
    """The default instance's lines without VRF imports and bfd, and without address families left empty."""
    kept = []
    for line in lines:
        stripped = line.strip()
        if re.match(r"^import vrf ", stripped):
            dropped.append(("import vrf (route leaking from a VRF instance: no kernel VRF)", stripped))
        elif re.match(r"^neighbor \S+ bfd", stripped):
            dropped.append(("neighbor bfd (no bfdd in the twin)", stripped))
        else:
            kept.append(line)
    result, family = [], None
    for line in kept:
        stripped = line.strip()
        if stripped.startswith("address-family "):
            family = [line]
        elif family is not None:
            family.append(line)
            if stripped == "exit-address-family":
                body = [item for item in family[1:-1] if item.strip() != "!"]
                if body:
                    result += family
                else:
                    dropped.append(("empty address family (it held only VRF imports)", family[0].strip()))
                family = None
        elif not (stripped == "!" and result and result[-1].strip() == "!"):
            result.append(line)
    return result


def derive(rendered, log_path=None):
    """(bgpd config text, [(kind, line)] dropped) from a node's rendered frr.conf."""
    dropped = []
    out = []
    for head, lines in _blocks(rendered):
        words = head.split()
        if words[0] == "vrf":
            dropped += [("vrf block (kernel VRF: vni, routes)", line.strip()) for line in lines]
        elif words[:2] == ["router", "bgp"] and "vrf" in words:
            dropped += [("router bgp vrf block (EVPN type-5 / exit nodes)", line.strip()) for line in lines]
        elif words[:2] == ["router", "bgp"]:
            body = _strip_router_bgp(lines, dropped)
            group = [re.match(r"^neighbor (\S+) peer-group$", line.strip()) for line in body]
            groups = [match.group(1) for match in group if match]
            timers = [" neighbor %s timers %d %d" % (name, TIMERS[0], TIMERS[1]) for name in groups]
            timers += [" neighbor %s timers connect %d" % (name, CONNECT_RETRY) for name in groups]
            insert_at = max(index for index, line in enumerate(body) if re.match(r"^ neighbor ", line)) + 1
            out += body[:insert_at] + timers + body[insert_at:] + ["!"]
        elif head == "service integrated-vtysh-config":
            dropped.append(("vtysh-only command", head))
        elif words[0] in ("log",):
            dropped.append(("log target (the twin logs to a file)", head))
        elif head.startswith("line vty"):
            dropped += [("vty line (the twin uses the vty socket only)", line.strip()) for line in lines]
        else:
            out += lines + (["!"] if len(lines) > 1 else [])
    header = ["log file %s informational" % log_path] if log_path else []
    return "\n".join(header + out) + "\n", dropped


def run_dir(twin_id, node):
    """FRR's files live under /run (the frr user must reach them; a test's temporary directory is root-only)."""
    return os.path.join("/run", "hctw-%s" % twin_id, "frr", node)


def start(twin_id, node, netns, rendered):
    """zebra + bgpd inside netns with their own pathspace (sandbox recipe); returns {dir, vty_socket, pid files}."""
    folder = run_dir(twin_id, node)
    os.makedirs(folder, exist_ok=True)
    frr_user = pwd.getpwnam("frr")
    for path in (os.path.dirname(os.path.dirname(folder)), os.path.dirname(folder), folder):
        os.chmod(path, 0o755)
    bgpd_config, dropped = derive(rendered, os.path.join(folder, "bgpd.log"))
    files = {"zebra.conf": "hostname %s\nlog file %s/zebra.log informational\n" % (node, folder), "bgpd.conf": bgpd_config,
             "frr.conf.rendered": rendered}
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    for name in os.listdir(folder) + [""]:
        os.chown(os.path.join(folder, name), frr_user.pw_uid, frr_user.pw_gid)
    name = "hctw-%s-%s" % (twin_id, node)
    common = ["-N", name, "-P", "0", "-z", os.path.join(folder, "zserv.api"), "--vty_socket", folder]
    for daemon, binary in (("zebra", ZEBRA), ("bgpd", BGPD)):
        pid_file = os.path.join(folder, daemon + ".pid")
        shell.run([binary, "-d", "-f", os.path.join(folder, daemon + ".conf"), "-i", pid_file] + common, netns=netns, timeout=20)
        if daemon == "zebra":
            shell.wait_until(lambda: os.path.exists(os.path.join(folder, "zserv.api")), 10, 0.05)
    return {"dir": folder, "vty_socket": folder, "dropped": dropped,
            "pid_files": [os.path.join(folder, "zebra.pid"), os.path.join(folder, "bgpd.pid")]}


def stop(node_state):
    """bgpd then zebra by their pid files (FRR writes them); safe to repeat."""
    for pid_file in reversed(node_state.get("pid_files", [])):
        shell.stop_pid_file(pid_file)


def remove_run_dir(twin_id):
    top = os.path.join("/run", "hctw-%s" % twin_id)
    if os.path.isdir(top):
        shutil.rmtree(top)


def vtysh_json(vty_socket, command):
    process = shell.run(["vtysh", "--vty_socket", vty_socket, "-c", command], check=False, timeout=15)
    try:
        return json.loads(process.stdout or "{}")
    except ValueError:
        return {}


def peers_established(vty_socket):
    """{peer: state} of the l2vpn evpn sessions."""
    summary = vtysh_json(vty_socket, "show bgp l2vpn evpn summary json")
    peers = summary.get("peers") or {}
    return dict((peer, info.get("state")) for peer, info in peers.items())


def multicast_routes(vty_socket):
    """Number of type-3 (inclusive multicast) routes bgpd holds (show bgp l2vpn evpn route type multicast json)."""
    routes = vtysh_json(vty_socket, "show bgp l2vpn evpn route type multicast json")
    return int(routes.get("numPrefix", 0) or 0)


def evpn_vnis(vty_socket):
    """{vni: number of remote VTEPs} as zebra knows them (show evpn vni json)."""
    document = vtysh_json(vty_socket, "show evpn vni json")
    return dict((int(vni), int(info.get("numRemoteVteps", 0) if isinstance(info.get("numRemoteVteps", 0), int) else 0))
                for vni, info in document.items() if isinstance(info, dict))


def check_file(path):
    """FRR's own check of a whole config: (valid, output). `vtysh -C -f FILE` exits 0 when valid."""
    process = shell.run(["vtysh", "-C", "-f", path], check=False, timeout=30)
    return process.returncode == 0, (process.stdout + process.stderr).strip()
