#!/usr/bin/env python3
"""Recall@k of hearth search on the labelled questions about this repository.

usage: recall.py HEARTH [--repo DIR] [--embedding-model GGUF] [-k 5] [--questions FILE]

Indexes the repository into a temporary XDG cache (HEARTH_INDEX_LOCATION=cache, so the working
tree is not touched), then asks every question of questions.jsonl in lexical (BM25), vector and
hybrid mode. A question counts as found when one of the top k hits is the expected symbol's chunk
(same path and symbol); "file" counts the expected file among the top k. Prints a Markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hearth")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--embedding-model")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("-t", default="2")
    ap.add_argument("--questions", default=os.path.join(HERE, "questions.jsonl"))
    a = ap.parse_args()
    qs = [json.loads(l) for l in open(a.questions) if l.strip()]
    with tempfile.TemporaryDirectory(prefix="hearth-recall-") as cache:
        env = {**os.environ, "HEARTH_INDEX_LOCATION": "cache", "XDG_CACHE_HOME": cache}
        cmd = [a.hearth, "index", a.repo, "-t", a.t]
        if a.embedding_model:
            cmd += ["--embedding-model", a.embedding_model]
        t0 = time.time()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode:
            sys.exit(p.stderr)
        print(f"indexed in {time.time() - t0:.1f} s: {p.stderr.strip().splitlines()[-1]}",
              file=sys.stderr)
        modes = ["lexical"] + (["vector", "hybrid"] if a.embedding_model else [])
        rows = []
        for mode in modes:
            sym = fil = 0
            misses = []
            for q in qs:
                p = subprocess.run([a.hearth, "search", q["q"], "--root", a.repo, "-k", str(a.k),
                                    "--json", "--mode", mode, "-t", a.t],
                                   env=env, capture_output=True, text=True)
                hits = [json.loads(l) for l in p.stdout.splitlines()]
                sym += any(h["path"] == q["path"] and h["symbol"] == q["symbol"] for h in hits)
                fil += any(h["path"] == q["path"] for h in hits)
                if not any(h["path"] == q["path"] and h["symbol"] == q["symbol"] for h in hits):
                    misses.append(q["symbol"])
            rows.append((mode, sym, fil))
            print(f"{mode}: missed {misses}", file=sys.stderr)
    print(f"| mode | recall@{a.k} (symbol) | recall@{a.k} (file) |")
    print("|---|---|---|")
    for mode, sym, fil in rows:
        print(f"| {mode} | {sym}/{len(qs)} = {sym / len(qs):.2f} | "
              f"{fil}/{len(qs)} = {fil / len(qs):.2f} |")


if __name__ == "__main__":
    main()
