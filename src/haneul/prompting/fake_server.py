"""A real local HTTP server that speaks the OpenAI chat-completions protocol, for tests and demos.

    with FakeChatServer(reply=lambda request: "A red ball ...") as server:
        ChatExpander(server.url).expand("a red ball")

It answers POST /v1/chat/completions in the real response shape ({"id", "object": "chat.completion",
"choices": [{"message": {"role": "assistant", "content": ...}}], "usage"}), records every request body, and
can be told to misbehave: `fail_next` (answer that many requests with HTTP 500), `delay` (seconds before
answering, to cause client timeouts), `malformed` (HTTP 200 with a body that is not a chat completion).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def echo_reply(request: dict) -> str:
    """Default answer: the last user message, marked, so a test can see what reached the model."""
    content = request["messages"][-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return f"A detailed caption of: {text}"


class FakeChatServer:
    def __init__(self, reply: Callable[[dict], str] = echo_reply):
        self.reply = reply
        self.requests: list[dict] = []  # JSON bodies, in arrival order
        self.headers: list[dict] = []
        self.fail_next = 0
        self.delay = 0.0
        self.malformed = False
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            failing = self.fail_next > 0
            self.fail_next -= failing
        if failing:
            return 500, {"error": {"message": "the model crashed", "type": "server_error"}}
        if self.malformed:
            return 200, {"result": "this is not a chat completion"}
        try:
            content = self.reply(body)
        except Exception as e:  # a failing check in a test's reply function: tell the client
            return 500, {"error": {"message": f"reply function failed: {e!r}", "type": "server_error"}}
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "default"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                server.headers.append(dict(self.headers))
                if server.delay:
                    time.sleep(server.delay)
                self._send(*server._answer(body))

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        return Handler
