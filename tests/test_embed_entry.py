#!/usr/bin/env python3
"""One text, one vector: `hearth embed`, `/v1/embeddings` (hearth serve --embedding-model) and the
index (a temporary repository whose one file is one chunk of that text, the vector read from
index.sqlite) give bit-identical vectors, for tiny-qwen3-embed and tiny-bert. Queries and
documents: `hearth embed --query` equals `input_type: "query"`, and differs from the document
vector when the model has a query prompt (Qwen3-Embedding). Over-long input through every entry
point: a document is truncated and says so, a query is an error naming its length and the limit
(`hearth embed --query`, /v1/embeddings with input_type query, `hearth search`).

usage: test_embed_entry.py HEARTH REF_DIR
"""
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

HEARTH, REF = sys.argv[1], sys.argv[2]
TEXT = "int add(int a, int b) { return a + b; } /* adds two numbers */"
LONG = "word. " * 3000
failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def hearth(*args):
    return subprocess.run([HEARTH, *args], capture_output=True, text=True, errors="replace")


def f32(xs):
    """Decimal floats (%.9g of a float32) back to the exact float32 values."""
    return list(struct.unpack(f"{len(xs)}f", struct.pack(f"{len(xs)}f", *xs)))


def cli_vector(model, text, *flags):
    p = hearth("embed", "-m", model, "--json", "-t", "1", *flags, text)
    check(p.returncode == 0, f"hearth embed {flags}: {p.stderr}")
    return json.loads(p.stdout) if p.returncode == 0 else None


class Server:
    def __init__(self, model):
        self.proc = subprocess.Popen([HEARTH, "serve", "--port", "0", "-t", "1", "-q",
                                      "--embedding-model", model],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = None
        for line in self.proc.stderr:
            m = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if m:
                self.url = m.group(1)
                break

    def post(self, body):
        req = urllib.request.Request(self.url + "/v1/embeddings", json.dumps(body).encode(),
                                     {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def index_vector(model, tmp):
    root = os.path.join(tmp, "repo")
    os.makedirs(root)
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write(TEXT + "\n")
    p = hearth("index", root, "--embedding-model", model, "-t", "1", "-q")
    check(p.returncode == 0, f"hearth index: {p.stderr}")
    with sqlite3.connect(os.path.join(root, ".hearth", "index.sqlite")) as c:
        rows = c.execute("SELECT c.text, v.vec FROM chunks c JOIN vectors v "
                         "ON v.chunk_id = c.id").fetchall()
    check(len(rows) == 1 and rows[0][0].rstrip("\n") == TEXT, f"one chunk of the text: {rows}")
    if len(rows) != 1:
        return root, None, TEXT
    blob = rows[0][1]
    return root, list(struct.unpack(f"{len(blob) // 4}f", blob)), rows[0][0]


def test_model(name):
    model = os.path.join(REF, "models", name)
    qwen = "qwen3" in name
    srv = Server(model)
    check(srv.url is not None, f"{name}: hearth serve started")
    with tempfile.TemporaryDirectory() as tmp:
        root, idx, text = index_vector(model, tmp)  # the chunk's exact text
        cli = cli_vector(model, text)
        cli_q = cli_vector(model, text, "--query")
        status, doc = srv.post({"input": text, "model": "x"})
        status_q, q = srv.post({"input": [text], "input_type": "query"})
        check(status == 200 and status_q == 200, f"{name}: /v1/embeddings {status} {status_q}")
        if cli and idx and status == 200:
            a, b = f32(cli["embedding"]), f32(doc["data"][0]["embedding"])
            check(a == b, f"{name}: hearth embed == /v1/embeddings")
            check(a == idx, f"{name}: hearth embed == the index's stored vector")
        if cli_q and status_q == 200:
            check(f32(cli_q["embedding"]) == f32(q["data"][0]["embedding"]),
                  f"{name}: --query == input_type query")
            differs = f32(cli_q["embedding"]) != f32(cli["embedding"])
            check(differs == qwen, f"{name}: query vs document vectors differ: {differs}")
        overlong(name, model, srv, root)
    srv.close()


def overlong(name, model, srv, root):
    # hearth embed: a document is truncated (said on stderr and in --json), a query refused.
    p = hearth("embed", "-m", model, "--json", "-t", "1", LONG)
    row = json.loads(p.stdout) if p.returncode == 0 else {}
    check(row.get("truncated") is True and row.get("original_tokens", 0) > row.get("tokens", 1e9),
          f"{name}: hearth embed reports truncation: {p.stderr} {str(row)[:80]}")
    check("truncated to" in p.stderr, f"{name}: truncation on stderr: {p.stderr}")
    limit = row.get("tokens")
    p = hearth("embed", "-m", model, "--query", "-t", "1", LONG)
    check(p.returncode != 0 and "query is" in p.stderr and f"at most {limit}" in p.stderr,
          f"{name}: hearth embed --query refuses: {p.stderr}")
    # /v1/embeddings: the same
    status, r = srv.post({"input": ["short", LONG]})
    items = r.get("data", [])
    check(status == 200 and len(items) == 2 and "truncated" not in items[0]
          and items[1].get("truncated") is True and items[1].get("tokens") == limit,
          f"{name}: /v1/embeddings reports truncation: {status} {str(r)[:200]}")
    status, r = srv.post({"input": LONG, "input_type": "query"})
    msg = r.get("error", {}).get("message", "")
    check(status == 400 and "query is" in msg and f"at most {limit}" in msg,
          f"{name}: /v1/embeddings refuses a long query: {status} {msg}")
    status, r = srv.post({"input": "x", "input_type": "passage"})
    check(status == 400, f"{name}: unknown input_type: {status}")
    # hearth search embeds its query as a query
    p = hearth("search", LONG[:20000], "--root", root, "--mode", "vector", "-t", "1")
    check(p.returncode != 0 and "query is" in p.stderr, f"{name}: search refuses: {p.stderr}")


for m in ["tiny-qwen3-embed-F32.gguf", "tiny-bert-F16.gguf"]:
    test_model(m)
print(f"test_embed_entry: {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
