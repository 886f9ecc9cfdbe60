#!/usr/bin/env python3
"""The internet the adoption fixture's trackers talk to, answered on loopback.

Chromium is started with --host-resolver-rules mapping every tracker host to this server
(us.i.posthog.com, us-assets.i.posthog.com, cdn.mxpnl.com, api-js.mixpanel.com,
cdn.amplitude.com, api2.amplitude.com) and --ignore-certificate-errors, so the libraries'
own default https URLs work unchanged. One port speaks TLS (self-signed) and plain HTTP
(the first byte decides). It serves the npm packages' own builds at their CDN paths and
answers every ingestion call with a small JSON 200.

It also plays a tag manager on `localhost` (another site than the shop on 127.0.0.1):
/gtm.js inserts, at run time, a pixel, a cookie-sync iframe and a video embed, each setting a
third-party cookie on localhost.

Every request is appended to LOG as one JSON line: host, method, path, time.

usage: cloud.py PORT NODE_MODULES LOG CERT KEY
"""
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, NODE_MODULES, LOG, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
LOCK = threading.Lock()

CDN = {
    ("us-assets.i.posthog.com", "/static/array.full.js"): "posthog-js/dist/array.full.js",
    ("us-assets.i.posthog.com", "/static/array.js"): "posthog-js/dist/array.js",
    ("cdn.mxpnl.com", "/libs/mixpanel-2-latest.min.js"): "mixpanel-browser/dist/mixpanel.min.js",
}
AMPLITUDE_PREFIX = "/libs/analytics-browser-"

GTM = """(function(){
  var d = document, base = 'http://localhost:%d';
  var img = d.createElement('img'); img.src = base + '/pixel.gif?ev=pageview'; img.width = 1; img.height = 1;
  d.body.appendChild(img);
  var sync = d.createElement('iframe'); sync.src = base + '/sync.html'; sync.style.display = 'none';
  d.body.appendChild(sync);
  var video = d.createElement('iframe'); video.src = base + '/embed/video.html'; video.width = 320; video.height = 180;
  video.title = 'Product video'; d.body.appendChild(video);
  window.dataLayer = window.dataLayer || []; window.dataLayer.push({event: 'gtm.load'});
})();
""" % PORT

THIRD = "; Path=/; Max-Age=31536000; SameSite=None; Secure"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"host": host, "method": self.command, "path": self.path, "t": time.time()}) + "\n")
        return host

    def send(self, status, ctype, body, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_OPTIONS(self):
        self.record()
        self.send(204, "text/plain", b"", [("Access-Control-Allow-Methods", "GET, POST, OPTIONS")])

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.record()
        self.send(200, "application/json", json.dumps({"status": 1, "code": 200}))

    def do_GET(self):
        host = self.record()
        path = self.path.split("?")[0]
        if (host, path) in CDN:
            with open(f"{NODE_MODULES}/{CDN[(host, path)]}", "rb") as f:
                return self.send(200, "text/javascript", f.read())
        if host == "cdn.amplitude.com" and path.startswith(AMPLITUDE_PREFIX):
            with open(f"{NODE_MODULES}/@amplitude/analytics-browser/lib/scripts/amplitude-min.js", "rb") as f:
                return self.send(200, "text/javascript", f.read())
        if host == "localhost":
            if path == "/gtm.js":
                return self.send(200, "text/javascript", GTM)
            if path == "/pixel.gif":
                gif = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")
                return self.send(200, "image/gif", gif, [("Set-Cookie", "_tp_uid=px1" + THIRD)])
            if path == "/sync.html":
                return self.send(200, "text/html", "<!doctype html><p>sync</p>", [("Set-Cookie", "_tp_sync=s1" + THIRD)])
            if path == "/embed/video.html":
                return self.send(200, "text/html", "<!doctype html><p>video</p>", [("Set-Cookie", "_tp_video=v1" + THIRD)])
        if host.endswith("posthog.com") and path.startswith("/array/") and path.endswith("/config.js"):
            # PostHog's remote config script: nothing to configure for the fixture
            return self.send(200, "text/javascript", "/* no remote config */")
        if host.endswith("posthog.com") and path.startswith("/flags"):
            return self.send(200, "application/json", json.dumps({"featureFlags": {}, "flags": {}, "errorsWhileComputingFlags": False}))
        self.send(200, "application/json", json.dumps({"status": 1, "code": 200}))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(CERT, KEY)

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(10)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if first == b"\x16":
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
