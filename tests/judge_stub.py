"""A judge endpoint as a misconfigured gateway, a broken model server or a hung one shows it: a real HTTP server on
localhost answering every request with `body` after `delay` seconds; its URL carries a password (which must never
be shown). Used by the judge unit tests and the bad-input table.

With `tokens`, it streams as an OpenAI-compatible server does when asked to (`stream: true`): one server-sent event
per token, `token_delay` seconds apart, and counts in `abandoned` the streams whose client went away before the
end (a real server stops generating for those)."""

from __future__ import annotations

import http.server
import json
import threading
import time


class JudgeStub:
    def __init__(self, body: bytes = b"", delay: float = 0.0, content_type: str | None = None, tokens=(), token_delay=0.0):
        stub = self
        self.hits = self.abandoned = self.finished = 0
        kind = content_type or ("application/json" if body.startswith(b"{") else "text/html")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                stub.hits += 1
                asked = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                time.sleep(delay)
                if tokens and asked.get("stream"):
                    return self.stream()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for token in tokens:
                        delta = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
                        delta["choices"] = [{"index": 0, "delta": {"content": token}, "finish_reason": None}]
                        self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(token_delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    stub.finished += 1
                except OSError:  # the client closed the stream: a real server stops generating here
                    stub.abandoned += 1

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://user:pw@127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
