"""A chat completions server for tests, a test double: it answers ``reply(request body)`` on 127.0.0.1.

Used by the OpenAI backend's tests (fixture ``serve`` in this folder's conftest), the
benchmark's and the planner node's. A reply is
``(status, body)``: JSON for a dict or list, the bytes as they are otherwise, and with status
``RAW`` the bytes with no HTTP at all (b"" closes the connection without a word).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def completion(content: str, prompt_tokens: int = 321, completion_tokens: int = 12) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


RAW = 0  # a reply status: write the body as it is, no HTTP at all (b"": close the connection)


class Server:
    """A chat completions server whose answer is ``reply(request body) -> (status, body)``."""

    def __init__(self, reply: Callable[[dict], tuple[int, object]]) -> None:
        self.reply, self.bodies = reply, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append((self.path, dict(self.headers), body))
                status, answer = server.reply(body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    if status == RAW:
                        self.wfile.write(data)
                        self.close_connection = True
                        return
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
