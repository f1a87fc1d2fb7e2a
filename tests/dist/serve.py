#!/usr/bin/env python3
"""Serves a directory over HTTP on 127.0.0.1 (a stand-in for the release download site).

Prints the port on its first line once it listens, then serves until killed.
Usage: serve.py DIR
"""
import functools
import http.server
import sys


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("serve.py: " + (format % args) + "\n")


def main():
    handler = functools.partial(QuietHandler, directory=sys.argv[1])
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
