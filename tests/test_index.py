#!/usr/bin/env python3
"""hearth index / search on a fixture repository the test builds in a temporary directory.

usage: test_index.py HEARTH REF_DIR

Proves: the right files are indexed and the right ones skipped (with one log line per kind);
re-indexing touches only what changed; deletes and renames are handled; lexical, vector and
hybrid search find the expected chunk; schema mismatches name the rebuild path; and an indexer
killed with SIGKILL at random moments leaves an index that a re-run makes consistent and complete.
"""
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HEARTH, REF = sys.argv[1], sys.argv[2]
MODEL = os.path.join(REF, "models", "tiny-bert-F16.gguf")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args, ok=True):
    if args[0] in ("index", "search", "ask"):
        args = (*args, "-t", "1")  # the engine's workers spin: one thread on a shared CI machine
    p = subprocess.run([HEARTH, *args], capture_output=True, text=True, errors="replace")
    if ok and p.returncode != 0:
        print(p.stderr, file=sys.stderr)
    check((p.returncode == 0) == ok, f"hearth {' '.join(args)} exit {p.returncode}")
    return p


def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def db(root):
    return sqlite3.connect(os.path.join(root, ".hearth", "index.sqlite"))


def indexed(root):
    with db(root) as c:
        return {r[0] for r in c.execute("SELECT path FROM files")}


def counts(stderr):
    """(added, changed, deleted, unchanged) from the summary line."""
    line = [l for l in stderr.splitlines() if " added, " in l][-1]
    inner = line[line.index("(") + 1 : line.index(")")]
    return tuple(int(part.split()[0]) for part in inner.split(", "))


C_SRC = """#include <stdio.h>

/* Parses the configuration file into a table. */
int parse_config(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    fclose(f);
    return 0;
}
"""
PY_SRC = '''def frobnicate_widgets(widgets):
    """Frobnicates every widget in the list."""
    return [w * 2 for w in widgets]
'''


def make_fixture(root):
    write(root, "src/config.c", C_SRC)
    write(root, "src/widgets.py", PY_SRC)
    write(root, "web/app.js", "export function renderPage(page) { return page.title; }\n")
    # "web-old/" sorts before "web/" as a path but after it as a directory name: the walk and
    # the store must agree on the order, or every re-run re-indexes these.
    write(root, "web-old/legacy.js", "function legacyPage() { return 1; }\n")
    write(root, "web.js", "var webRoot = 1;\n")
    write(root, "README.md", "# Fixture\nA repository for the index tests.\n")
    write(root, ".gitignore", "*.log\n!keep.log\nbuild/\n/secret.txt\n")
    write(root, "docs/.gitignore", "!notes.log\n*.tmp\n")
    write(root, "docs/notes.log", "notes that a nested negation re-includes\n")
    write(root, "docs/scratch.tmp", "ignored by the nested rule\n")
    write(root, "debug.log", "ignored\n")
    write(root, "keep.log", "kept by negation\n")
    write(root, "build/out.c", "int built;\n")
    write(root, "secret.txt", "anchored ignore\n")
    write(root, "sub/secret.txt", "not matched by the anchored rule\n")
    write(root, ".hearthignore", "data/\n")
    write(root, "data/big.csv", "a,b\n")
    write(root, "node_modules/pkg/index.js", "module.exports = 1;\n")
    write(root, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(root, "latin1.txt", bytes([0xE9, 0xE8, 0xFF, 0xFE] * 100))
    write(root, "one_bad_byte.c", b"/* caf\xe9 */\nint one_bad_byte_marker;\n")
    write(root, "huge.txt", ("x" * 79 + "\n") * 30000)  # 2.4 MB
    write(root, "dist/app.min.js", "var a=1;")
    write(root, "package-lock.json", '{"lockfileVersion": 3}\n')
    os.symlink(".", os.path.join(root, "loop"))
    os.symlink("selfloop_b", os.path.join(root, "selfloop_a"))
    os.symlink("selfloop_a", os.path.join(root, "selfloop_b"))
    os.symlink("/usr/include", os.path.join(root, "outside"))
    os.mkfifo(os.path.join(root, "fifo"))
    write(root, "locked/secret.c", "int locked;\n")
    os.chmod(os.path.join(root, "locked/secret.c"), 0)  # root reads it anyway (see below)
    os.chmod(os.path.join(root, "locked"), 0)


EXPECTED = {"src/config.c", "src/widgets.py", "web/app.js", "web-old/legacy.js", "web.js",
            "README.md", ".gitignore",
            "docs/.gitignore", "docs/notes.log", "keep.log", "sub/secret.txt", ".hearthignore",
            "one_bad_byte.c"}


def test_walk_and_skips(root):
    p = run("index", root)
    if os.geteuid() == 0:
        EXPECTED.add("locked/secret.c")
    check(indexed(root) == EXPECTED, f"indexed {sorted(indexed(root) ^ EXPECTED)} differ")
    kinds = ["ignored", "vendored", "generated", "minified", "binary", "size limit", "symlink",
             "not a regular file"]
    if os.geteuid() != 0:  # permissions do not stop root: only others can see this skip
        kinds.append("unreadable")
    for kind in kinds:
        lines = [l for l in p.stderr.splitlines() if "skipped" in l and kind in l]
        check(len(lines) == 1, f"one log line for skip kind '{kind}': {lines}")
    check(counts(p.stderr) == (len(EXPECTED), 0, 0, 0), "first run adds every file")


def file_rows(root):
    with db(root) as c:
        return {r[0]: r[1:] for r in c.execute(
            "SELECT f.path, f.hash, group_concat(c.id) FROM files f JOIN chunks c "
            "ON c.file_id = f.id GROUP BY f.id")}


def test_incremental(root):
    check(counts(run("index", root).stderr) == (0, 0, 0, len(EXPECTED)), "no-op re-run")
    before = file_rows(root)
    with open(os.path.join(root, "src/widgets.py"), "a") as f:
        f.write("\ndef polish_widgets(widgets):\n    return widgets\n")
    check(counts(run("index", root).stderr) == (0, 1, 0, len(EXPECTED) - 1), "one change")
    after = file_rows(root)
    changed = {k for k in before if before[k] != after.get(k)}
    check(changed == {"src/widgets.py"}, f"exactly one file's rows changed: {changed}")
    os.utime(os.path.join(root, "README.md"))  # touched, same content
    check(counts(run("index", root).stderr)[:3] == (0, 0, 0), "a touch is not a change")
    os.rename(os.path.join(root, "web/app.js"), os.path.join(root, "web/main.js"))
    os.remove(os.path.join(root, "keep.log"))
    check(counts(run("index", root).stderr)[:3] == (1, 0, 2), "rename + delete")
    want = (EXPECTED - {"web/app.js", "keep.log"}) | {"web/main.js"}
    check(indexed(root) == want, "rename and delete reflected")
    write(root, "secret2.log", "now ignored\n")
    write(root, ".gitignore", "*.log\nbuild/\n/secret.txt\nsub/\n")  # sub/ newly ignored
    run("index", root)
    check("sub/secret.txt" not in indexed(root), "a newly ignored file leaves the index")


def search(root, query, *extra, ok=True):
    p = run("search", query, "--root", root, "--json", *extra, ok=ok)
    return [json.loads(l) for l in p.stdout.splitlines()] if ok else p


def test_lexical(root):
    hits = search(root, "parse_config", "--mode", "lexical")
    check(hits and hits[0]["path"] == "src/config.c", f"lexical top hit: {hits[:1]}")
    check(hits and set(hits[0]) == {"rank", "path", "start_line", "end_line", "symbol", "score"},
          "json fields")
    check(hits and hits[0]["start_line"] >= 1 and hits[0]["end_line"] >= hits[0]["start_line"],
          "line range")
    hits = search(root, "frobnicate widgets", "--mode", "lexical", "-k", "1")
    check(len(hits) == 1 and hits[0]["path"] == "src/widgets.py", f"k=1: {hits}")
    p = search(root, "anything", "--mode", "hybrid", ok=False)
    check("embedding model" in p.stderr and p.stderr.startswith("hearth: search:"),
          f"hybrid without a model: {p.stderr!r}")
    p = search(root, "anything", "--mode", "vector", ok=False)
    check("embedding model" in p.stderr, "vector without a model")
    check(isinstance(search(root, '"*) OR NEAR( ^ \\'), list), "a hostile query is just words")


def test_vectors(root):
    p = run("index", root, "--embedding-model", MODEL)
    with db(root) as c:
        n_chunks = c.execute("SELECT count(*) FROM chunks").fetchone()[0]
        n_vecs = c.execute("SELECT count(*) FROM vectors").fetchone()[0]
        gen = c.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
        ix = c.execute("SELECT value FROM meta WHERE key='index_id'").fetchone()[0]
    check(n_chunks == n_vecs and n_vecs > 0, f"every chunk has a vector ({n_vecs}/{n_chunks})")
    faiss = os.path.join(root, ".hearth", f"vectors.{ix}.{gen}.faiss")
    check(os.path.exists(faiss), "faiss file named by the database's id and generation")
    for mode in ["vector", "hybrid"]:
        hits = search(root, "parse_config configuration file", "--mode", mode, "-k", "5")
        check(len(hits) >= 1, f"{mode} returns results")
        check(all(h["path"] and h["score"] > 0 for h in hits), f"{mode} hits well-formed")
    hits = search(root, "parse_config", "--mode", "hybrid")
    check(hits and hits[0]["path"] == "src/config.c", f"hybrid top hit: {hits[:1]}")
    hits = search(root, "widgets", "--per-file", "1", "-k", "10")
    paths = [h["path"] for h in hits]
    check(len(paths) == len(set(paths)), "at most one chunk per file with --per-file 1")
    os.remove(faiss)
    check(len(search(root, "parse_config", "--mode", "vector")) >= 1, "rebuilt from SQLite")


def test_ask(root):
    chat = os.path.join(REF, "models", "tiny-qwen2-peaked-Q8_0.gguf")
    p = run("ask", "what does parse_config do?", "-m", chat, "--root", root, "--mode", "lexical",
            "-n", "8", "-c", "512")
    out = p.stdout
    check("\n\nSources:\n" in out, f"ask ends with sources: {out[-200:]!r}")
    sources = [l.strip() for l in out.split("\n\nSources:\n")[-1].splitlines() if l.strip()]
    check(sources and sources[0].startswith("src/config.c:"), f"best source first: {sources}")
    check(all(s.rsplit(":", 1)[0] in indexed(root) for s in sources), "sources are indexed files")
    small = run("ask", "parse_config", "-m", chat, "--root", root, "--mode", "lexical", "-n", "8",
                "-c", "160").stdout
    n_small = len(small.split("Sources:\n")[-1].splitlines())
    check(n_small < len(sources), f"a smaller context fits fewer excerpts ({n_small})")
    p = run("ask", "x", "-m", chat, "--root", root, "-n", "100", "-c", "128", ok=False)
    check("no room for excerpts" in p.stderr, f"budget error: {p.stderr!r}")
    # --chat: one question a line, history kept (the second answer is not the fresh one).
    common = ["-m", chat, "--root", root, "--mode", "lexical", "-n", "8", "-c", "1024", "-t", "1"]
    p = subprocess.run([HEARTH, "ask", "--chat", *common], input="what is parse_config?\n"
                       "and frobnicate_widgets?\n", capture_output=True, text=True,
                       errors="replace")
    turns = p.stdout.split("\n\nSources:\n")
    check(p.returncode == 0 and len(turns) == 3, f"two answered turns: {p.stderr!r}")
    fresh = run("ask", "and frobnicate_widgets?", *common[:-2]).stdout.split("\n\nSources:\n")[0]
    second = turns[1].split("\n\n", 1)[-1] if len(turns) == 3 else ""
    check(second and second != fresh, f"the history changes the answer: {second!r} {fresh!r}")


def test_schema_mismatch(root):
    with db(root) as c:
        c.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    p = search(root, "x", ok=False)
    check("--rebuild" in p.stderr and "schema version 999" in p.stderr, f"{p.stderr!r}")
    run("index", root, "--rebuild")
    check(len(search(root, "parse_config", "--mode", "lexical")) >= 1, "rebuilt index works")


def consistent(root, files):
    """The index holds exactly the files on disk with their current content, fully chunked."""
    c = db(root)
    ok = c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")
    rows = dict(c.execute("SELECT path, size FROM files"))
    ok = ok and rows == {p: len(d) for p, d in files.items()}
    orphans = c.execute("SELECT count(*) FROM chunks WHERE file_id NOT IN "
                        "(SELECT id FROM files)").fetchone()[0]
    empty = c.execute("SELECT count(*) FROM files WHERE id NOT IN "
                      "(SELECT file_id FROM chunks)").fetchone()[0]
    novec = c.execute("SELECT count(*) FROM chunks WHERE id NOT IN "
                      "(SELECT chunk_id FROM vectors)").fetchone()[0]
    nfts = c.execute("SELECT count(DISTINCT c.file_id) FROM chunks_fts JOIN chunks c "
                     "ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH 'marker'").fetchone()[0]
    c.close()
    return ok and orphans == 0 and empty == 0 and novec == 0 and nfts == len(files)


def test_sigkill(root):
    rng = random.Random(7)
    files = {}
    for i in range(120):
        body = "".join(f"int value_{i}_{j} = {j}; /* marker */\n" for j in range(12))
        files[f"m{i // 50}/f{i}.c"] = body
    for p, d in files.items():
        write(root, p, d)
    t0 = time.time()
    run("index", root, "--embedding-model", MODEL, "-q")
    full = time.time() - t0
    interrupted = 0
    for kill in range(10):
        for p in rng.sample(sorted(files), 60):  # always leave work to interrupt
            files[p] = files[p] + f"int extra_{kill} = 1; /* marker */\n"
            write(root, p, files[p])
        proc = subprocess.Popen([HEARTH, "index", root, "-q", "-t", "1"], stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, full / 2))  # half the files changed: about half the work
        interrupted += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    check(interrupted >= 3, f"only {interrupted} of 10 kills hit a running indexer")
    run("index", root, "-q")
    check(consistent(root, files), "consistent and complete after 10 kills and a re-run")


def test_cache_location(tmp):
    """HEARTH_INDEX_LOCATION=cache: the index goes to $XDG_CACHE_HOME/hearth/index/, the
    repository stays clean, and search finds it there."""
    root, cache = os.path.join(tmp, "clean"), os.path.join(tmp, "xdg")
    write(root, "lib/util.c", C_SRC)
    env = {**os.environ, "HEARTH_INDEX_LOCATION": "cache", "XDG_CACHE_HOME": cache}
    p = subprocess.run([HEARTH, "index", root, "-q", "-t", "1"], capture_output=True, text=True,
                       env=env)
    check(p.returncode == 0, f"index into the cache: {p.stderr}")
    check(not os.path.exists(os.path.join(root, ".hearth")), "nothing written into the repo")
    dirs = os.listdir(os.path.join(cache, "hearth", "index"))
    check(len(dirs) == 1 and dirs[0].startswith("clean-"), f"cache dir named after it: {dirs}")
    p = subprocess.run([HEARTH, "search", "parse_config", "--root", root, "--json"],
                       capture_output=True, text=True, env=env)
    hits = [json.loads(l) for l in p.stdout.splitlines()]
    check(hits and hits[0]["path"] == "lib/util.c", f"search in the cache index: {p.stderr}")


FUNCS = """/* Three functions: editing one must embed only that one again. */
int alpha_one(int x) {
    int y = x * 3;
    return y + 1;
}

int beta_two(int x) {
    int y = x - 7;
    return y * y;
}

int gamma_three(const char *s) {
    int n = 0;
    while (*s++) n++;
    return n;
}
"""


def written(stderr):
    """(vectors written, of them reused, tokens embedded) from the summary line."""
    m = re.search(r"(\d+) vectors written \((\d+) reused, (\d+) tokens embedded\)", stderr)
    return tuple(int(g) for g in m.groups()) if m else None


def vectors_by_symbol(root):
    with db(root) as c:
        return dict(c.execute("SELECT c.symbol, v.vec FROM chunks c JOIN vectors v "
                              "ON v.chunk_id = c.id WHERE c.symbol IS NOT NULL"))


def test_reuse(tmp):
    """Re-indexing after editing one function of a three-function file embeds that one chunk; the
    others keep their stored vectors (chunk content hash + model id). A copy of the file elsewhere
    embeds nothing."""
    root = os.path.join(tmp, "reuse")
    write(root, "funcs.c", FUNCS)
    first = written(run("index", root, "--embedding-model", MODEL).stderr)
    before = vectors_by_symbol(root)
    check(set(before) >= {"alpha_one", "beta_two", "gamma_three"}, f"one chunk each: {set(before)}")
    write(root, "funcs.c", FUNCS.replace("x - 7", "x - 8"))
    second = written(run("index", root).stderr)
    after = vectors_by_symbol(root)
    n = len(after)
    check(second is not None and second[0] == n and second[0] - second[1] == 1,
          f"one chunk embedded of {n}: {second}")
    check(first and second and 0 < second[2] < first[2], f"fewer tokens: {first} {second}")
    check(after.get("alpha_one") == before.get("alpha_one") and
          after.get("gamma_three") == before.get("gamma_three"), "unchanged vectors kept")
    check(after.get("beta_two") != before.get("beta_two"), "the edited function re-embedded")
    write(root, "copy/funcs.c", FUNCS.replace("x - 7", "x - 8"))
    third = written(run("index", root).stderr)
    check(third is not None and third[0] == third[1] and third[2] == 0, f"a copy: {third}")


def test_old_schema(tmp):
    """An index of an older schema (chunks cut by older rules) is never misread: a search names
    the command that rebuilds it, and the next 'hearth index' rebuilds it from scratch."""
    root = os.path.join(tmp, "v3")
    write(root, "lib.c", C_SRC)
    run("index", root, "-q")
    with db(root) as c:
        c.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    p = search(root, "parse_config", "--mode", "lexical", ok=False)
    check(p.returncode != 0 and "older hearth (schema 3" in p.stderr and "hearth index" in p.stderr,
          f"a search names the rebuild: {p.stderr!r}")
    p = run("index", root)
    check("schema 3" in p.stderr and "rebuilt" in p.stderr, f"the build says so: {p.stderr!r}")
    hits = search(root, "parse_config", "--mode", "lexical")
    check(hits and hits[0]["path"] == "lib.c", "the rebuilt index searches")
    with db(root) as c:
        v = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    check(v == "5", f"rebuilt as schema 5: {v}")


def test_unreadable(tmp):
    """Files and directories the indexer may not read are skipped with one log line. Root reads
    everything, so as root the indexer runs as nobody (setpriv), in a world-writable repo."""
    root = os.path.join(tmp, "perm")
    write(root, "ok.c", C_SRC)
    write(root, "no_read.c", "int hidden;\n")
    write(root, "closed/inner.c", "int inner;\n")
    os.chmod(os.path.join(root, "no_read.c"), 0)
    os.chmod(os.path.join(root, "closed"), 0)
    cmd = [HEARTH, "index", root, "-t", "1"]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            print("test_unreadable: skipped (root without setpriv)")
            return
        os.chmod(tmp, 0o755)
        os.chmod(root, 0o777)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True)
    check(p.returncode == 0, f"index with unreadable paths: {p.stderr}")
    lines = [l for l in p.stderr.splitlines() if "skipped" in l and "unreadable" in l]
    check(len(lines) == 1 and "2 paths" in lines[0], f"one log line for both: {lines}")
    check(indexed(root) == {"ok.c"}, f"only the readable file: {indexed(root)}")
    os.chmod(os.path.join(root, "closed"), 0o755)


def main():
    with tempfile.TemporaryDirectory(prefix="hearth-index-") as tmp:
        root = os.path.join(tmp, "repo")
        os.makedirs(root)
        make_fixture(root)
        test_walk_and_skips(root)
        test_incremental(root)
        test_lexical(root)
        test_vectors(root)
        test_ask(root)
        test_schema_mismatch(root)
        crash = os.path.join(tmp, "crash")
        os.makedirs(crash)
        test_sigkill(crash)
        test_cache_location(tmp)
        test_reuse(tmp)
        test_old_schema(tmp)
        test_unreadable(tmp)
        os.chmod(os.path.join(root, "locked"), 0o755)  # so the temporary directory can go
    print(f"test_index: {checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
