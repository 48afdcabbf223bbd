#!/usr/bin/env python3
"""Every shell example in README.md runs as written, or is on the checked list of those that are
not run here and why (a new block fails this test until it is classified). The runnable ones run
with bash -e in a scratch directory that looks like a checkout (build/ is this build, tests/ the
sources) with HOME and the XDG folders in it; `hearth pull` gets its models from a local HTTP
mirror of the catalogue's layout holding synthetic models (HF_ENDPOINT), so nothing is downloaded.

usage: test_readme.py README BUILD_DIR SOURCE_DIR REF_DIR"""
import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading

README, BUILD, SRC, REF = (os.path.abspath(a) for a in sys.argv[1:5])
HEARTH = os.path.join(BUILD, "hearth")

# First line of a block -> why it is not run here. Everything else runs.
NOT_RUN = {
    "bash tools/setup.sh": "installs packages and builds: .ci/run runs it as README command 1",
    "./build/hearth serve": "binds the fixed port 8080 on a shared machine; tests/serve covers the endpoints",
    "llama-server -m": "third-party servers (Team setup), not part of hearth",
}


def blocks(text):
    """The fenced sh/bash blocks: (line number, text)."""
    out, cur, start = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if cur is None and re.match(r"^```(sh|bash|shell)\s*$", line):
            cur, start = [], n
        elif cur is not None and line.startswith("```"):
            out.append((start, "\n".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


class Mirror:
    def __init__(self, root):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def main():
    failures = []
    with tempfile.TemporaryDirectory() as d:
        work = os.path.join(d, "checkout")
        os.makedirs(work)
        os.symlink(BUILD, os.path.join(work, "build"))
        os.symlink(os.path.join(SRC, "tests"), os.path.join(work, "tests"))
        # the mirror: the default completion model as a synthetic model with a Qwen vocabulary
        sub = os.path.join(d, "mirror", "Qwen", "Qwen2.5-Coder-1.5B-GGUF", "resolve", "main")
        os.makedirs(sub)
        subprocess.run([HEARTH, "synth", "--like", "tiny-qwen2", "--type", "Q8_0", "--vocab",
                        os.path.join(REF, "models", "tiny-qwen2-peaked-Q8_0.gguf"), "-o",
                        os.path.join(sub, "qwen2.5-coder-1.5b-q5_k_m.gguf")], check=True, capture_output=True)
        mirror = Mirror(os.path.join(d, "mirror"))
        home = os.path.join(d, "home")
        env = dict(os.environ, HOME=home, XDG_DATA_HOME=os.path.join(home, ".local", "share"),
                   XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
                   HF_ENDPOINT=mirror.base)
        found = blocks(open(README, encoding="utf-8").read())
        for line, text in found:
            first = text.strip().splitlines()[0] if text.strip() else ""
            why = next((w for k, w in NOT_RUN.items() if first.startswith(k)), None)
            if why:
                print(f"README:{line}: not run: {why}")
                continue
            p = subprocess.run(["bash", "-e", "-c", text], cwd=work, env=env, capture_output=True, timeout=300)
            if p.returncode != 0:
                failures.append(line)
                print(f"FAIL README:{line} (exit {p.returncode})\n{text}\n--- stderr:\n{p.stderr.decode(errors='replace')[-3000:]}")
            else:
                print(f"README:{line}: ran ({len(text.splitlines())} lines)")
        mirror.httpd.shutdown()
        if len(found) < 5:
            failures.append("fewer than 5 shell blocks found: the extraction is broken")
    if failures:
        print("FAILED:", failures)
        sys.exit(1)
    print("PASS")


main()
