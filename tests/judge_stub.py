"""A judge endpoint as a misconfigured gateway, a broken model server or a hung one shows it: a real HTTP server on
localhost answering every request with `body` after `delay` seconds; its URL carries a password (which must never
be shown). Used by the judge unit tests and the bad-input table."""

from __future__ import annotations

import http.server
import threading
import time


class JudgeStub:
    def __init__(self, body: bytes, delay: float = 0.0, content_type: str | None = None):
        stub = self
        self.hits = 0
        kind = content_type or ("application/json" if body.startswith(b"{") else "text/html")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                stub.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://user:pw@127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
