#!/usr/bin/env python3
"""Search latency at ~100k chunks: p50/p95 of `hearth search` per mode.

usage: latency.py HEARTH SRC_DIR EMBED_MODEL [--copies 5] [--work /tmp/hearth-latency]

Builds a repository of COPIES copies of SRC_DIR (a real codebase, e.g. the `three` npm package:
5 copies = ~106k chunks), indexes it lexically, then gives every chunk a random unit vector of
the embedding model's dimension, labelled as that model's (embedding 100k chunks with a real
model is not what is measured here; search cost does not depend on the vectors' values). The
FAISS file is written by a no-op `hearth index` run. Then every question of questions.jsonl is
searched in each mode, each as its own process (so the time includes opening the index, loading
the embedding model and the FAISS file, as every `hearth search` and every hearth.ask pays).
HEARTH_HNSW_THRESHOLD chooses the vector index: 1000000000 keeps the exact flat index, 1 forces
HNSW (whose build takes minutes of CPU at this size).
--prepare-only stops once the index and its FAISS file exist (for hearth-index-latency, which
compares index_search per call with a long-lived index_searcher inside one process).
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hearth")
    ap.add_argument("src")
    ap.add_argument("model")
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--work", default="/tmp/hearth-latency")
    ap.add_argument("-t", default="2")
    ap.add_argument("--prepare-only", action="store_true")
    a = ap.parse_args()
    repo = os.path.join(a.work, "repo")
    db_path = os.path.join(repo, ".hearth", "index.sqlite")
    if not os.path.exists(db_path):
        shutil.rmtree(a.work, ignore_errors=True)
        for i in range(a.copies):
            shutil.copytree(a.src, os.path.join(repo, f"copy{i}"), symlinks=True)
        subprocess.run([a.hearth, "index", repo, "-q", "-t", a.t], check=True)
        # The model's id as the indexer records it: index a one-file repo with the model.
        one = os.path.join(a.work, "one")
        os.makedirs(one, exist_ok=True)
        open(os.path.join(one, "a.c"), "w").write("int a;\n")
        subprocess.run([a.hearth, "index", one, "-q", "--embedding-model", a.model, "-t", a.t],
                       check=True)
        meta = dict(sqlite3.connect(os.path.join(one, ".hearth", "index.sqlite"))
                    .execute("SELECT key, value FROM meta"))
        dim = int(meta["embed_dim"])
        c = sqlite3.connect(db_path)
        rng = random.Random(1)
        ids = [r[0] for r in c.execute("SELECT id FROM chunks")]
        rows = []
        for i in ids:
            v = [rng.gauss(0, 1) for _ in range(dim)]
            n = sum(x * x for x in v) ** 0.5
            rows.append((i, struct.pack(f"{dim}f", *(x / n for x in v))))
        with c:
            c.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            for k in ("embed_model", "embed_id", "embed_dim"):
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, meta[k]))
            c.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        c.close()
        print(f"{len(ids)} chunks with {dim}-dim vectors", file=sys.stderr)
    for f in os.listdir(os.path.dirname(db_path)):  # rebuilt under this run's threshold
        if f.startswith("vectors."):
            os.remove(os.path.join(os.path.dirname(db_path), f))
    t0 = time.time()
    subprocess.run([a.hearth, "index", repo, "-q", "-t", a.t], check=True)  # writes the FAISS file
    print(f"vector index built in {time.time() - t0:.1f} s "
          f"(HEARTH_HNSW_THRESHOLD={os.environ.get('HEARTH_HNSW_THRESHOLD', 'default')})",
          file=sys.stderr)
    if a.prepare_only:
        return
    n_chunks = sqlite3.connect(db_path).execute("SELECT count(*) FROM chunks").fetchone()[0]
    qs = [json.loads(l)["q"] for l in open(os.path.join(HERE, "questions.jsonl")) if l.strip()]
    print(f"| mode | chunks | queries | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    for mode in ["lexical", "vector", "hybrid"]:
        times = []
        for q in qs:
            t = time.perf_counter()
            subprocess.run([a.hearth, "search", q, "--root", repo, "-k", "10", "--mode", mode,
                            "-t", a.t], check=True, capture_output=True)
            times.append((time.perf_counter() - t) * 1000)
        print(f"| {mode} | {n_chunks} | {len(qs)} | {pct(times, 50):.0f} | {pct(times, 95):.0f} |")


if __name__ == "__main__":
    main()
