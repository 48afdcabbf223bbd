#!/usr/bin/env python3
"""A local HTTP server for the models/ tests: file downloads with injectable faults, and a tiny
OpenAI-compatible API stub. Binds 127.0.0.1 on a free port and prints the port on stdout.

Files: GET any path whose last segment ends in .gguf serves --file (Range supported);
GET /redirect/<anything> answers 302 to /files/<anything>.
Faults, set with POST /_control {"key": value, ...} (each applies to the next N requests):
  drop_after: bytes sent before the connection is cut; drop_times: how many requests (1)
  wrong: serve different bytes; ignore_range: answer 200 with the whole file
  status: answer this HTTP status; status_times: how many requests (1)
  api_fail: the next API request answers 503 (api_fail_times: the next N)
  stream_cut: cut the stream after N events
  rate: send files at about this many bytes/s (persists until /_reset)
  api_key: require "Authorization: Bearer <key>"
GET /_log returns the requests seen (method, path, range); POST /_reset clears faults and log.
API: /v1/completions and /v1/chat/completions (streamed as server-sent events or whole),
/v1/embeddings (8-dimensional vectors derived from the text, deliberately not normalised),
/v1/models. Completions answer "[" + the prompt's last 12 characters + "]" split in 3-character
pieces; chat answers "echo: " + the last user message, likewise.
"""
import argparse
import hashlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"faults": {}, "log": []}
LOCK = threading.Lock()


def take(name, default=None):
    """Consumes one use of a fault; returns its value or default."""
    with LOCK:
        f = STATE["faults"]
        if name not in f:
            return default
        value = f[name]
        times = f.get(name + "_times", 1)
        if times <= 1:
            del f[name]
            f.pop(name + "_times", None)
        else:
            f[name + "_times"] = times - 1
        return value


def peek(name, default=None):
    with LOCK:
        return STATE["faults"].get(name, default)


def completion_text(prompt):
    return "[" + prompt[-12:] + "]"


def embedding_of(text):
    h = hashlib.sha256(text.encode()).digest()
    return [(h[i] - 128) / 16.0 for i in range(8)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    data = b""

    def log_message(self, *args):
        pass

    def record(self):
        with LOCK:
            STATE["log"].append({"method": self.command, "path": self.path,
                                 "range": self.headers.get("Range")})

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    # ---- files ----
    def do_GET(self):
        self.record()
        if self.path == "/_log":
            with LOCK:
                return self.send_json(200, STATE["log"])
        if self.path == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/files/" + self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self.path.split("?")[0].endswith(".gguf"):
            return self.send_json(404, {"error": {"message": "not found"}})
        status = take("status")
        if status:
            return self.send_json(status, {"error": {"message": "injected %d" % status}})
        self.serve_file()

    def serve_file(self):
        data = self.data
        if take("wrong"):
            data = bytes(b ^ 0x5A for b in data)
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and not take("ignore_range") and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            code = 206
        body = data[start:]
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        cut = take("drop_after")
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        rate = peek("rate")
        if not rate:
            self.wfile.write(body)
            return
        for i in range(0, len(body), 65536):  # throttled, to watch the progress bar
            self.wfile.write(body[i:i + 65536])
            time.sleep(65536 / rate)

    # ---- control and API ----
    def do_POST(self):
        self.record()
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_control":
            with LOCK:
                STATE["faults"].update(json.loads(raw))
            return self.send_json(200, {"ok": True})
        if self.path == "/_reset":
            with LOCK:
                STATE["faults"].clear()
                STATE["log"].clear()
            return self.send_json(200, {"ok": True})
        key = peek("api_key")
        if key and self.headers.get("Authorization") != "Bearer " + key:
            return self.send_json(401, {"error": {"message": "invalid api key", "type": "auth"}})
        if take("api_fail"):
            return self.send_json(503, {"error": {"message": "overloaded", "type": "server"}})
        try:
            req = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "malformed JSON"}})
        if self.path == "/v1/embeddings":
            return self.embeddings(req)
        if self.path == "/v1/completions":
            return self.generate(req, completion_text(req.get("prompt", "")), chat=False)
        if self.path == "/v1/chat/completions":
            users = [m["content"] for m in req.get("messages", []) if m.get("role") == "user"]
            return self.generate(req, "echo: " + (users[-1] if users else ""), chat=True)
        return self.send_json(404, {"error": {"message": "no route " + self.path}})

    def embeddings(self, req):
        texts = req.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        data = [{"object": "embedding", "index": i, "embedding": embedding_of(t)}
                for i, t in enumerate(texts)]
        data.reverse()  # clients must order by index
        self.send_json(200, {"object": "list", "data": data, "model": req.get("model"),
                             "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

    def generate(self, req, text, chat):
        pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
        if req.get("max_tokens"):
            pieces = pieces[:req["max_tokens"]]
        obj = "chat.completion" if chat else "text_completion"
        if not req.get("stream"):
            whole = "".join(pieces)
            choice = {"index": 0, "finish_reason": "stop"}
            choice.update({"message": {"role": "assistant", "content": whole}} if chat else {"text": whole})
            return self.send_json(200, {"object": obj, "choices": [choice],
                                        "usage": {"prompt_tokens": 1, "completion_tokens": len(pieces)}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        cut = take("stream_cut")
        for i, p in enumerate(pieces):
            if cut is not None and i == cut:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            choice = {"index": 0, "finish_reason": None}
            choice.update({"delta": {"content": p}} if chat else {"text": p})
            self.wfile.write(b"data: " + json.dumps({"object": obj + ".chunk", "choices": [choice]}).encode() + b"\n\n")
            self.wfile.flush()
        end = {"index": 0, "finish_reason": "stop"}
        end.update({"delta": {}} if chat else {"text": ""})
        self.wfile.write(b": keep-alive comment\r\n")
        self.wfile.write(b"data: " + json.dumps({"choices": [end]}).encode() + b"\r\n\r\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (the tests cancel and cut on purpose) are not errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", help="the file GET *.gguf serves")
    args = ap.parse_args()
    if args.file:
        with open(args.file, "rb") as f:
            Handler.data = f.read()
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
