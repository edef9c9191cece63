#!/usr/bin/env python3
"""faulty_server.py - a real HTTP(S) server on 127.0.0.1 that misbehaves on request.

Serves the files under --root. Faults are asked for in the query string of each request,
so one test can use several at once and a later "clean" request of the same path behaves:

  fail=STATUS&fail_times=K   answer STATUS (500, 503, 404, ...) to the first K requests (1)
  drop=OFFSET                close the connection once the body reaches byte OFFSET of
                             the file (a resume from OFFSET on is served whole)
  drop_times=K               drop only in the first K responses (default: always)
  stall=OFFSET&stall_secs=S  stop sending at OFFSET for S seconds (30), then close
  norange=1                  ignore Range: always 200 with the whole file
  status416=1                answer 416 to any range request
  swap=NAME                  after the first request of this URL, serve file NAME instead
                             (another version: its own ETag and Last-Modified)
  len_delta=N                Content-Length is the real length + N (N<0: body truncated)
  corrupt=OFFSET             flip the byte at OFFSET ...
  corrupt_times=K            ... in the first K responses only (default: always)
  noetag=1                   send neither ETag nor Last-Modified
  validator=lastmod|weak     send only Last-Modified, or only a weak ETag (W/"...")

Special paths: /redirect?to=PATH (302 to PATH), /loop/N (302 to /loop/N+1, forever),
/_stats (JSON: body bytes sent and requests per path; ?reset=1 clears).

Prints "PORT <n>" on stdout once listening (it binds port 0: the kernel picks a free one).
Whole and ranged bodies go out through socket.sendfile, so it is not the bottleneck when
benchmarking a client on loopback. Python 3 standard library only.
"""
import argparse
import email.utils
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}      # full URL (path?query) -> requests seen
SENT = {}        # path -> body bytes sent
REQUESTS = {}    # path -> requests
ROOT = "."
VERBOSE = False


def count(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


def add_sent(path, n):
    with LOCK:
        SENT[path] = SENT.get(path, 0) + n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faulty/1"

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("faulty: " + (fmt % args) + "\n")

    def simple(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = urllib.parse.unquote(url.path)
        with LOCK:
            REQUESTS[path] = REQUESTS.get(path, 0) + 1
        if path == "/_stats":
            if q.get("reset"):
                with LOCK:
                    SENT.clear()
                    REQUESTS.clear()
                    COUNTS.clear()
            with LOCK:
                body = json.dumps({"sent": SENT, "requests": REQUESTS}).encode()
            return self.simple(200, body, {"Content-Type": "application/json"})
        if path == "/redirect":
            return self.simple(302, b"", {"Location": q.get("to", "/")})
        if path.startswith("/loop/"):
            try:
                n = int(path[6:])
            except ValueError:
                n = 0
            return self.simple(302, b"", {"Location": "/loop/%d" % (n + 1)})

        nth = count(self.path)
        if "fail" in q and nth <= int(q.get("fail_times", "1")):
            return self.simple(int(q["fail"]), b"injected failure\n")

        name = path.lstrip("/")
        if nth > 1 and q.get("swap"):
            name = q["swap"]
        full = os.path.realpath(os.path.join(ROOT, name))
        if not full.startswith(os.path.realpath(ROOT) + os.sep) or not os.path.isfile(full):
            return self.simple(404, b"not found\n")
        st = os.stat(full)
        size = st.st_size
        etag = '"%x-%x-%x"' % (st.st_ino, st.st_mtime_ns, size)
        lastmod = email.utils.formatdate(st.st_mtime, usegmt=True)
        validators = {} if q.get("noetag") else {"ETag": etag, "Last-Modified": lastmod}
        if q.get("validator") == "lastmod":
            validators = {"Last-Modified": lastmod}
        elif q.get("validator") == "weak":
            validators = {"ETag": "W/" + etag}

        start, end, partial = 0, size - 1, False
        rng = self.headers.get("Range")
        if rng and not q.get("norange"):
            if q.get("status416"):
                return self.simple(416, b"", {"Content-Range": "bytes */%d" % size})
            ifr = self.headers.get("If-Range")
            if ifr is None or ifr in (etag, lastmod):
                try:
                    unit, spec = rng.split("=", 1)
                    a, b = spec.split("-", 1)
                    if unit.strip() != "bytes" or "," in spec:
                        raise ValueError
                    start = int(a)
                    end = min(int(b), size - 1) if b else size - 1
                except ValueError:
                    return self.simple(400, b"bad range\n")
                if start >= size or start > end:
                    return self.simple(416, b"", {"Content-Range": "bytes */%d" % size})
                partial = True
        count_len = end - start + 1
        delta = int(q.get("len_delta", "0"))
        declared = max(0, count_len + delta)
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        for k, v in validators.items():
            self.send_header(k, v)
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.flush()

        stop = start + min(count_len, declared)      # exclusive end of what we send
        close_after = delta > 0
        drop = q.get("drop")
        if drop is not None and nth <= int(q.get("drop_times", "1000000000")):
            d = int(drop)
            if start < d < stop:
                stop, close_after = d, True
        stall = q.get("stall")
        stall_at = None
        if stall is not None and start < int(stall) < stop:
            stall_at = int(stall)
        corrupt = q.get("corrupt")
        corrupt_at = None
        if corrupt is not None and nth <= int(q.get("corrupt_times", "1000000000")):
            c = int(corrupt)
            if start <= c < stop:
                corrupt_at = c

        sent = 0
        try:
            with open(full, "rb") as f:
                pos = start
                for cut in sorted(x for x in (stall_at, corrupt_at) if x is not None):
                    sent += self.send_range(f, pos, cut - pos)
                    pos = cut
                    if cut == stall_at:
                        time.sleep(float(q.get("stall_secs", "30")))
                        close_after = True
                        stop = pos
                        break
                    if cut == corrupt_at:
                        f.seek(cut)
                        b = f.read(1)
                        self.wfile.write(bytes([b[0] ^ 0xFF]))
                        self.wfile.flush()
                        sent += 1
                        pos = cut + 1
                if pos < stop:
                    sent += self.send_range(f, pos, stop - pos)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            close_after = True
        add_sent(path, sent)
        if close_after:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def send_range(self, f, offset, n):
        if n <= 0:
            return 0
        return self.connection.sendfile(f, offset, n)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # clients that hang up mid-body are what the tests do on purpose
        if VERBOSE:
            super().handle_error(request, client_address)


def main():
    global ROOT, VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    ROOT = a.root
    VERBOSE = a.verbose
    srv = Server(("127.0.0.1", 0), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
