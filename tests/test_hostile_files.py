#!/usr/bin/env python3
"""Hostile files around the index and the models (issue 17), through the hearth binary.

usage: test_hostile_files.py HEARTH REF_DIR

Proves: a model path that is a fifo (on the command line, or recorded in an index a repository
ships) is refused at once instead of hanging, and a directory or /dev/zero is named for what it
is; a write past `ulimit -f` is reported as an error instead of a silent SIGXFSZ death; an index
location that is a symlink (or a database file that is one) is refused, so neither `index` nor
`--rebuild` writes or deletes outside the repository; a FAISS file left from before a --rebuild
is never taken for the new index's; `search --json` keeps hits whose path is not UTF-8 (encoded
as {"bytes": base64}) and the text output keeps one line per hit whatever the file names hold.
"""
import base64
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HEARTH, REF = sys.argv[1], sys.argv[2]
EMBED = os.path.join(REF, "models", "tiny-bert-F16.gguf")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args, timeout=60, preexec=None, cwd=None):
    """(returncode, stdout bytes, stderr text); returncode None when it had to be killed."""
    args = [os.fsencode(a) if isinstance(a, (str, bytes)) else a for a in args]
    try:
        p = subprocess.run([HEARTH, *args], capture_output=True, timeout=timeout,
                           preexec_fn=preexec, cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, b"", "(timed out)"
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def test_model_paths(tmp):
    fifo = os.path.join(tmp, "model.gguf")
    os.mkfifo(fifo)
    for args in (["run", "-m", fifo, "-p", "x", "-n", "1"], ["embed", "-m", fifo, "x"]):
        rc, _, err = run(*args, timeout=20)
        check(rc not in (None, 0) and "fifo" in err, f"{args[0]} -m fifo: {rc} {err.strip()}")
    repo = os.path.join(tmp, "fifo-repo")
    write(os.path.join(repo, "a.c"), "int a;\n")
    rc, _, err = run("index", repo, "--embedding-model", fifo, "-t", "1", timeout=20)
    check(rc not in (None, 0) and "fifo" in err, f"index --embedding-model fifo: {rc} {err}")
    # An index a repository ships may record any path as its model: search must not hang on it.
    rc, _, err = run("index", repo, "-t", "1")
    check(rc == 0, f"lexical index: {err}")
    with sqlite3.connect(os.path.join(repo, ".hearth", "index.sqlite")) as c:
        c.execute("INSERT OR REPLACE INTO meta VALUES('embed_model', ?)", (fifo,))
        c.execute("INSERT OR REPLACE INTO meta VALUES('embed_dim', '8')")
    rc, _, err = run("search", "a", "--root", repo, "--mode", "vector", "-t", "1", timeout=20)
    check(rc not in (None, 0) and "fifo" in err, f"search with a fifo recorded: {rc} {err}")
    for path, kind in ((tmp, "directory"), ("/dev/zero", "character device")):
        rc, _, err = run("run", "-m", path, "-p", "x", "-n", "1", timeout=20)
        check(rc not in (None, 0) and kind in err and "no such file" not in err,
              f"run -m {path}: {err.strip()}")


def small_fsize():
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_file_size_limit(tmp):
    repo = os.path.join(tmp, "fsize-repo")
    for i in range(200):
        write(os.path.join(repo, f"f{i}.c"), f"int function_{i}(void) {{ return {i}; }}\n" * 40)
    rc, _, err = run("index", repo, "-t", "1", preexec=small_fsize)
    check(rc is not None and rc > 0, f"index under ulimit -f exits with an error: {rc}")
    check("File too large" in err, f"and says why: {err.strip()[-200:]}")


def test_corrupt_database(tmp):
    """A damaged database names the way out (the header check already did; page damage too)."""
    repo = os.path.join(tmp, "corrupt-repo")
    for i in range(60):
        write(os.path.join(repo, f"f{i}.c"), f"int corrupt_marker_{i}(void) {{ return {i}; }}\n" * 30)
    rc, _, err = run("index", repo, "-t", "1")
    check(rc == 0, f"index: {err}")
    db = os.path.join(repo, ".hearth", "index.sqlite")
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(db)
    with open(db, "r+b") as f:  # the second half (chunks and FTS pages): garbage
        f.seek(size // 2)
        f.write(bytes((i * 151 + 7) & 0xFF for i in range(size - size // 2)))
    rc, _, err = run("search", "corrupt_marker_7", "--root", repo, "-t", "1")
    check(rc not in (None, 0) and "--rebuild" in err, f"search on a damaged index: {rc} {err}")


def snapshot(d):
    """{name: bytes} of the files in d."""
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def test_index_location_links(tmp):
    """A repository cannot point its .hearth (or the files in it) outside itself."""
    victim = os.path.join(tmp, "victim")
    write(os.path.join(victim, "index.sqlite"), "precious data\n")
    write(os.path.join(victim, "notes.txt"), "more precious data\n")
    before = snapshot(victim)
    repo = os.path.join(tmp, "link-repo")
    write(os.path.join(repo, "a.c"), "int a;\n")
    os.symlink(victim, os.path.join(repo, ".hearth"))
    for extra in ([], ["--rebuild"]):
        rc, _, err = run("index", repo, "-t", "1", *extra)
        check(rc not in (None, 0) and "symbolic link" in err, f"index {extra} via a .hearth link: {err}")
        check(snapshot(victim) == before, f"index {extra}: nothing outside written or deleted")
    rc, _, err = run("search", "a", "--root", repo, "-t", "1")
    check(rc not in (None, 0) and "symbolic link" in err, f"search via a .hearth link: {err}")
    # A real .hearth whose database, WAL or lock file is a link to a file outside.
    for name in ("index.sqlite", "index.sqlite-wal", "lock"):
        repo = os.path.join(tmp, f"file-link-{name}")
        write(os.path.join(repo, "a.c"), "int a;\n")
        os.makedirs(os.path.join(repo, ".hearth"))
        os.symlink(os.path.join(victim, "notes.txt"), os.path.join(repo, ".hearth", name))
        for extra in ([], ["--rebuild"]):
            rc, _, err = run("index", repo, "-t", "1", *extra)
            check(rc not in (None, 0) and "not a file hearth wrote" in err,
                  f"index {extra} with {name} a link: {err}")
        check(snapshot(victim) == before, f"{name} link: the file outside is untouched")


def vector_hits(repo):
    rc, out, err = run("search", "function returns value", "--root", repo, "--mode", "vector",
                       "-k", "8", "--json", "-t", "1")
    check(rc == 0, f"vector search: {err}")
    return [(h["path"], h["start_line"], round(h["score"], 4))
            for h in (json.loads(l) for l in out.decode().splitlines())]


def test_stale_faiss_after_rebuild(tmp):
    """A FAISS file of the index before a --rebuild, still there when the new one reaches its
    generation, must not be searched as the new index's vectors."""
    repo = os.path.join(tmp, "stale-repo")
    words = ["alpha parser", "network socket", "matrix multiply", "string buffer"]
    for i, w in enumerate(words):
        write(os.path.join(repo, f"m{i}.c"), f"/* {w} */\nint first_{i}(void) {{ return {i}; }}\n")
    rc, _, err = run("index", repo, "--embedding-model", EMBED, "-t", "1")
    check(rc == 0, f"index with vectors: {err}")
    ix = os.path.join(repo, ".hearth")
    old = {n: open(os.path.join(ix, n), "rb").read() for n in os.listdir(ix) if n.endswith(".faiss")}
    check(len(old) == 1, f"one FAISS file: {sorted(old)}")
    for i, w in enumerate(reversed(words)):  # same files and chunk count, other vectors
        write(os.path.join(repo, f"m{i}.c"), f"/* {w} */\nlong other_{i}(int x) {{ return x * {i}; }}\n")
    rc, _, err = run("index", repo, "--rebuild", "--embedding-model", EMBED, "-t", "1")
    check(rc == 0, f"rebuild: {err}")
    for n in os.listdir(ix):
        if n.endswith(".faiss"):
            os.remove(os.path.join(ix, n))
    truth = vector_hits(repo)  # from SQLite
    for n, data in old.items():  # the old file survives (a failed unlink, a copy, a backup)
        write(os.path.join(ix, n), data)
    check(vector_hits(repo) == truth, "the stale FAISS file is not taken for the new index's")


def test_file_names(tmp):
    """Hits whose file name is not UTF-8 or holds a newline are neither dropped nor split."""
    repo = os.path.join(tmp, "names-repo")
    os.makedirs(repo)
    names = [b"caf\xe9.c", b"new\nline.c", b"plain.c"]
    for n in names:
        write(os.path.join(os.fsencode(repo), n), "int odd_name_marker;\n")
    rc, _, err = run("index", repo, "-t", "1")
    check(rc == 0, f"index: {err}")
    rc, out, err = run("search", "odd_name_marker", "--root", repo, "--json", "-t", "1")
    hits = [json.loads(l) for l in out.decode().splitlines()]
    got = sorted(base64.b64decode(h["path"]["bytes"]) if isinstance(h["path"], dict)
                 else h["path"].encode() for h in hits)
    check(rc == 0 and got == sorted(names), f"--json: every hit, names exact: {got}")
    rc, out, err = run("search", "odd_name_marker", "--root", repo, "-t", "1")
    lines = out.splitlines()  # a header line per hit, then its code indented, then a blank line
    heads = [l for l in lines if l[:1].isdigit()]
    check(rc == 0 and len(heads) == 3 and all(l == b"" or l.startswith(b"  ") for l in lines
                                              if l not in heads),
          f"text: one header line per hit: {lines}")
    check(any(b"new\\nline.c" in l for l in lines), f"a newline shown as \\n: {lines}")


def main():
    with tempfile.TemporaryDirectory(prefix="hearth-hostile-") as tmp:
        test_model_paths(tmp)
        test_file_size_limit(tmp)
        test_corrupt_database(tmp)
        test_index_location_links(tmp)
        test_stale_faiss_after_rebuild(tmp)
        test_file_names(tmp)
    print(f"test_hostile_files: {checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
