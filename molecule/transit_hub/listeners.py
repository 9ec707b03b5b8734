# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in listeners of the transit_hub scenario: each argument PROTO:ADDRESS:PORT (tcp or udp).

Every connection (tcp) or datagram (udp) is answered with "from <client address>" and logged
as "<proto> <address>:<port> from <client address>", so a test sees the source address the
listener saw: the hub and the tenant gateways do not masquerade on the transit network.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import sys
import threading


def serve_tcp(address, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(16)
    while True:
        connection, client = server.accept()
        print("tcp %s:%d from %s" % (address, port, client[0]), flush=True)
        try:
            connection.sendall(("from %s\n" % client[0]).encode())
        finally:
            connection.close()


def serve_udp(address, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, port))
    while True:
        _data, client = server.recvfrom(2048)
        print("udp %s:%d from %s" % (address, port, client[0]), flush=True)
        server.sendto(("from %s\n" % client[0]).encode(), client)


def main(specs):
    threads = []
    for spec in specs:
        proto, address, port = spec.split(":")
        target = serve_tcp if proto == "tcp" else serve_udp
        thread = threading.Thread(target=target, args=(address, int(port)), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1:])
