"""The outside's services: `--echo PORT` an HTTP server whose body is the client's address (the internet's
"what is my IP"), `--accept PORT` a TCP listener that answers one line and closes (management 8006 / 22).
Run inside a namespace by the twin: `python3 -m nettwin.listener --echo 80`."""

import argparse
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        body = (self.client_address[0] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: the twin's log would fill with every probe
        pass


class Banner(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"hctw %d %s\n" % (self.server.server_address[1], self.client_address[0].encode()))


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    address_family = socket.AF_INET


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin.listener")
    parser.add_argument("--echo", type=int, action="append", default=[])
    parser.add_argument("--accept", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    servers = [ThreadingHTTPServer(("0.0.0.0", port), EchoHandler) for port in args.echo]
    servers += [TcpServer(("0.0.0.0", port), Banner) for port in args.accept]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
