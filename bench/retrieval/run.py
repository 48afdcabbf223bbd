#!/usr/bin/env python3
"""Retrieval quality of hearth search on the labelled sets in sets/ (issue 15).

usage: run.py HEARTH [--sets NAME,...] [--modes lexical,hybrid,vector]
              [--embedding-model GGUF] [-k 10] [--misses] [--hybrid-floor]

For each set, its codebase (codebases.json: a path on this machine and the package version it
must come from) is indexed into a temporary XDG cache (HEARTH_INDEX_LOCATION=cache, so nothing
is written next to the code), then every question is asked with `hearth search --json -k K`.
A question is answered at rank r when the r-th hit is in the labelled file and its line range
holds the labelled definition's first line. Prints recall@1, recall@5 and MRR (over the top K)
per set and mode as a Markdown table; --misses lists the questions not found in the top 5;
--min-recall5 / --min-mrr make it a regression test (ctest retrieval_quality), --hybrid-floor
one that hybrid never ranks below lexical (ctest retrieval_hybrid)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def codebase_root(cb):
    root = cb["root"].replace("$REPO", REPO)
    if not os.path.isdir(root):
        sys.exit(f"{cb['name']}: {root} is missing ({cb['version']})")
    return root


def check_version(cb, root):
    """Warns when the codebase on this machine is not the labelled version."""
    if "package_json" in cb:
        with open(os.path.join(root, cb["package_json"])) as f:
            got = json.load(f).get("version")
    else:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", cb["deb"]],
                           capture_output=True, text=True)
        got = p.stdout.strip()
    if got != cb["version"]:
        print(f"warning: {cb['name']} is version {got}, the set was labelled on "
              f"{cb['version']}", file=sys.stderr)


def rank_of(q, hits):
    for i, h in enumerate(hits):
        if h["path"] == q["path"] and h["start_line"] <= q["start"] <= h["end_line"]:
            return i + 1
    return 0


def run_set(args, cb, qs, env):
    root = codebase_root(cb)
    check_version(cb, root)
    cmd = [args.hearth, "index", root, "-t", args.t]
    if args.embedding_model:
        cmd += ["--embedding-model", args.embedding_model]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{cb['name']}: hearth index failed: {p.stderr}")
    rows = []
    for mode in args.modes.split(","):
        ranks, misses = [], []
        for q in qs:
            p = subprocess.run([args.hearth, "search", q["q"], "--root", root, "-k", str(args.k),
                                "--json", "--mode", mode, "-t", args.t],
                               env=env, capture_output=True, text=True)
            if p.returncode:
                sys.exit(f"search failed: {p.stderr}")
            hits = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
            r = rank_of(q, hits)
            ranks.append(r)
            if not r or r > 5:
                top = [f"{h['path']}:{h['start_line']}" for h in hits[:3]]
                misses.append(f"  [{r}] {q['q']} -> {q['path']}:{q['start']} {q['symbol']}; "
                              f"got {top}")
        n = len(qs)
        rows.append((cb["name"], mode, n, sum(1 for r in ranks if r == 1) / n,
                     sum(1 for r in ranks if 0 < r <= 5) / n,
                     sum(1 / r for r in ranks if r) / n))
        if args.misses:
            print(f"{cb['name']} {mode}: {len(misses)} not in the top 5", file=sys.stderr)
            print("\n".join(misses), file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hearth")
    ap.add_argument("--sets", help="comma-separated set names (default: all)")
    ap.add_argument("--modes", default="lexical")
    ap.add_argument("--embedding-model")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("-t", default="2")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--min-recall5", type=float, default=0.0,
                    help="exit 1 when a set's recall@5 is below this (a regression guard)")
    ap.add_argument("--min-mrr", type=float, default=0.0)
    ap.add_argument("--hybrid-floor", action="store_true",
                    help="exit 1 when hybrid's recall@5 or MRR is below lexical's on a set "
                         "(ctest retrieval_hybrid, with the synthetic embedder)")
    args = ap.parse_args()
    with open(os.path.join(HERE, "codebases.json")) as f:
        codebases = json.load(f)
    wanted = args.sets.split(",") if args.sets else [cb["name"] for cb in codebases]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hearth-retrieval-") as cache:
        env = {**os.environ, "HEARTH_INDEX_LOCATION": "cache", "XDG_CACHE_HOME": cache}
        for cb in codebases:
            if cb["name"] not in wanted:
                continue
            with open(os.path.join(HERE, "sets", cb["name"] + ".jsonl")) as f:
                qs = [json.loads(line) for line in f if line.strip()]
            rows += run_set(args, cb, qs, env)
    print("| set | mode | questions | recall@1 | recall@5 | MRR |")
    print("|---|---|---|---|---|---|")
    for name, mode, n, r1, r5, mrr in rows:
        print(f"| {name} | {mode} | {n} | {r1:.2f} | {r5:.2f} | {mrr:.2f} |")
    low = [f"{name} {mode}: recall@5 {r5:.2f}, MRR {mrr:.2f}" for name, mode, n, r1, r5, mrr in rows
           if r5 < args.min_recall5 or mrr < args.min_mrr]
    if low:
        sys.exit(f"below recall@5 {args.min_recall5} / MRR {args.min_mrr}: " + "; ".join(low))
    if args.hybrid_floor:
        lex = {name: (r5, mrr) for name, mode, n, r1, r5, mrr in rows if mode == "lexical"}
        worse = [f"{name}: hybrid {r5:.2f}/{mrr:.2f} < lexical {lex[name][0]:.2f}/{lex[name][1]:.2f}"
                 for name, mode, n, r1, r5, mrr in rows
                 if mode == "hybrid" and name in lex and (r5 < lex[name][0] or mrr < lex[name][1])]
        if worse:
            sys.exit("hybrid below lexical: " + "; ".join(worse))


if __name__ == "__main__":
    main()
