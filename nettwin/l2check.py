"""The layer-2 proof: tcpdump (bounded) on every VNet bridge of every node while a guest of each tenant sends
ARP requests (for an address in another tenant's VNet and one in its own) and an ethernet broadcast.
Pass: each sender's frames are seen on its own VNet's bridge on the other nodes (VXLAN carries them: the
positive control) and on no bridge of any other VNet."""

import argparse
import ipaddress
import os
import select
import socket
import struct
import subprocess
import sys
import time

from nettwin import shell, source

CAPTURE_SECONDS = 60  # upper bound of a capture; it is ended SETTLE_SECONDS after the last frame was sent
CAPTURE_START_SECONDS = 15  # bound on tcpdump saying "listening on" (the sends start after every capture is ready)
SETTLE_SECONDS = 1.0
ROUNDS = 3
BROADCAST_ETHERTYPE = 0x88B5  # IEEE 802 local experimental ethertype: nothing on the path answers it
BROADCAST = b"\xff" * 6


def _mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def send_frames(ifname, sender_ip, targets, rounds=ROUNDS):
    """ARP who-has each target (from sender_ip) and one ethernet broadcast, `rounds` times, on ifname."""
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        raw.bind((ifname, 0))
        mac = raw.getsockname()[4][:6]
        spa = ipaddress.ip_address(sender_ip).packed
        frames = []
        for target in targets:
            arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + spa + b"\x00" * 6 + ipaddress.ip_address(target).packed
            frames.append(BROADCAST + mac + struct.pack("!H", 0x0806) + arp)
        frames.append(BROADCAST + mac + struct.pack("!H", BROADCAST_ETHERTYPE) + b"hctw l2-check".ljust(46, b"\x00"))
        for _round in range(rounds):
            for frame in frames:
                raw.send(frame)
            time.sleep(0.2)
    finally:
        raw.close()


def _wait_listening(processes):
    """Bounded: until every tcpdump has written "listening on" to stderr (its capture socket is open)."""
    deadline = time.monotonic() + CAPTURE_START_SECONDS
    waiting = dict((process.stderr.fileno(), process) for process in processes)
    buffers = dict((fd, b"") for fd in waiting)
    while waiting and time.monotonic() < deadline:
        readable, _w, _x = select.select(list(waiting), [], [], max(0.0, deadline - time.monotonic()))
        for fd in readable:
            chunk = os.read(fd, 4096)
            buffers[fd] += chunk
            if b"listening on" in buffers[fd] or not chunk:
                del waiting[fd]
    if waiting:
        raise RuntimeError("tcpdump did not start listening within %d s" % CAPTURE_START_SECONDS)


def _senders(twin):
    """One guest (or shared service VM) per tenant: (vm record, its first NIC on a VNet with an address)."""
    chosen = {}
    for vmid in sorted(twin["vms"], key=int):
        vm = twin["vms"][vmid]
        if vm["kind"] not in ("guest", "service") or vm["tenant"] in chosen:
            continue
        nic = next((nic for nic in vm["nics"] if nic["vnet"] and nic["address"]), None)
        if nic:
            chosen[vm["tenant"]] = (vm, nic)
    return list(chosen.values())


def _foreign_target(twin, own_vnet):
    """An address in another tenant's VNet (its first guest address .10 is as good as any)."""
    own_tenant = twin["vnets"][own_vnet]["tenant"]
    for name, vnet in sorted(twin["vnets"].items()):
        if vnet["tenant"] != own_tenant and vnet["cidr"]:
            return str(ipaddress.ip_network(vnet["cidr"])[10]), name
    return None, None


def check(twin, log=print):
    """Run the proof; returns (ok, lines)."""
    senders = _senders(twin)
    if not senders:
        return False, ["l2-check: no guest with an address on a VNet to send from"]
    macs = dict((nic["mac"].lower(), (vm, nic)) for vm, nic in senders)
    capture_filter = " or ".join("ether src %s" % mac for mac in macs)
    captures = {}
    for vnet_name, vnet in sorted(twin["vnets"].items()):
        for node, bridge in sorted(vnet["bridges"].items()):
            argv = ["ip", "netns", "exec", bridge["netns"], "timeout", str(CAPTURE_SECONDS), "tcpdump", "-l", "-n", "-e",
                    "-c", "1000", "-i", bridge["bridge"], capture_filter]
            captures[(vnet_name, node)] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    _wait_listening(captures.values())
    env = dict(os.environ, PYTHONPATH=source.REPO)
    for vm, nic in senders:
        foreign, _foreign_vnet = _foreign_target(twin, nic["vnet"])
        own = str(ipaddress.ip_interface(nic["address"]).network[11])
        targets = [target for target in (foreign, own) if target]
        shell.run(["ip", "netns", "exec", vm["netns"], "env", "PYTHONPATH=" + env["PYTHONPATH"], sys.executable, "-m", "nettwin.l2check",
                   "send", nic["ifname"], str(ipaddress.ip_interface(nic["address"]).ip)] + targets, timeout=20)
    time.sleep(SETTLE_SECONDS)
    seen = {}
    for process in captures.values():
        process.terminate()  # `timeout` passes the TERM on to tcpdump, which prints what it captured
    for key, process in captures.items():
        try:
            output, _errors = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _errors = process.communicate(timeout=5)
        text = output.decode("utf-8", "replace")
        seen[key] = set(line.split()[1].lower() for line in text.splitlines() if len(line.split()) > 1) & set(macs)
    ok, lines = True, []
    for (vnet_name, node), found in sorted(seen.items()):
        problems, carried = [], []
        for mac in sorted(macs):
            vm, nic = macs[mac]
            own_vnet = nic["vnet"]
            if own_vnet == vnet_name:
                if node != vm["node"]:
                    if mac in found:
                        carried.append(vm["name"])
                    else:
                        problems.append("MISSING frames of %s (%s, same VNet on node %s): VXLAN did not carry them" % (
                            vm["name"], mac, vm["node"]))
            elif mac in found:
                problems.append("FOREIGN frames of %s (%s, VNet %s)" % (vm["name"], mac, own_vnet))
        ok = ok and not problems
        verdict = "; ".join(problems) if problems else "ok" + (" (carried by VXLAN: %s)" % ", ".join(carried) if carried else "")
        lines.append("%s %s on %s: %s" % ("FAIL" if problems else "pass", vnet_name, node, verdict))
    for line in lines:
        log(line)
    return ok, lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin.l2check")
    sub = parser.add_subparsers(dest="command", required=True)
    send = sub.add_parser("send", help="send the ARP requests and the broadcast (run inside a guest's namespace)")
    send.add_argument("ifname")
    send.add_argument("sender_ip")
    send.add_argument("targets", nargs="*")
    args = parser.parse_args(argv)
    send_frames(args.ifname, args.sender_ip, args.targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
