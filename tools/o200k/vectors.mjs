// Tokenization vectors for the o200k_harmony vocabulary, from gpt-tokenizer's own encoder: for a
// kit input file (texts separated by "\n__ggml_vocab_test__\n"), one line of token ids per text,
// special-token text encoded as plain text (no BOS), the .out format of the reference kit.
//
//   node vectors.mjs ../../../shared/reference/vocab/gpt-2.gguf.inp ../../tests/data/o200k_harmony.gguf.out
//   node vectors.mjs ../../../shared/reference/vocab/qwen3.code.inp ../../tests/data/o200k_harmony.code.out
//
// These are the expected outputs for those kit inputs once the engine has the gpt-4o
// pre-tokenizer (issue 18's tokenizer item).
import { encode } from 'gpt-tokenizer/encoding/o200k_harmony';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const [inp, out] = process.argv.slice(2);
if (!inp || !out) {
  console.error('usage: node vectors.mjs INPUT.inp OUTPUT.out');
  process.exit(2);
}
const SEP = '\n__ggml_vocab_test__\n';
const text = readFileSync(inp, 'utf8');
const texts = text.split(SEP);
if (text.endsWith(SEP)) texts.pop(); // the file's last separator ends the last text
const plain = { allowedSpecial: new Set(), disallowedSpecial: new Set() };
const lines = texts.map((t) => encode(t, plain).join(' ') + '\n');
writeFileSync(`${out}.tmp`, lines.join(''));
renameSync(`${out}.tmp`, out);
console.error(`wrote ${out}: ${lines.length} texts`);
