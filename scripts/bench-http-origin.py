#!/usr/bin/env python3
"""The central HTTP repository of scripts/bench-provision.sh (issue 12's baseline).

Usage: bench-http-origin.py DIR PORTFILE

Serves the files of DIR on 127.0.0.1 (a free port, written to PORTFILE once listening) with
http.server's ThreadingHTTPServer: one thread per connection, so N clients are served at
once, as a repository serving a fleet would. Bodies go out with sendfile(2) (no copy through
Python), and the listen backlog is 1024 rather than http.server's 5, so neither Python nor
a full accept queue slows the baseline down.

It counts the bytes it sends (status line, headers and bodies); `GET /stats` answers that
count (its own answer is not counted). No logging.
"""
import functools
import http.server
import os
import sys
import threading

SENT = 0
LOCK = threading.Lock()


def count(n):
    global SENT
    with LOCK:
        SENT += n


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass

    def flush_headers(self):
        count(sum(len(b) for b in getattr(self, "_headers_buffer", [])))
        super().flush_headers()

    def copyfile(self, source, outputfile):
        outputfile.flush()
        count(self.connection.sendfile(source))

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                body = str(SENT).encode()
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            return
        super().do_GET()


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


def main():
    root, portfile = sys.argv[1], sys.argv[2]
    server = Server(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
