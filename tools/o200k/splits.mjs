// Pre-tokenizer vectors for the o200k split pattern: random short texts over an alphabet of the
// classes the pattern tells apart (lower and upper case, titlecase Lt, modifier Lm, other Lo
// letters, marks, digits and other numbers, spaces incl. no-break and ideographic, CR/LF, '/',
// apostrophes and contraction letters, symbols, emoji), each with the words the npm package
// gpt-tokenizer's O200K_TOKEN_SPLIT_REGEX splits it into. U+0085 and U+FEFF are left out: a
// JavaScript \s differs there from tiktoken's (Unicode White_Space), which the engine follows.
//
//   node splits.mjs ../../tests/data/o200k_splits.json
import { O200K_TOKEN_SPLIT_REGEX } from './node_modules/gpt-tokenizer/esm/encodingParams/constants.js';
import { renameSync, writeFileSync } from 'node:fs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node splits.mjs OUTPUT.json');
  process.exit(2);
}
const alphabet = ['a', 'b', 'Z', 'Q', "'", 's', 'S', 't', 'l', 'L', 'e', 'r', 'v', 'd', 'm', ' ',
  '  ', '\t', '\n', '\r', '\r\n', '/', '!', '.', '1', '23', '4567', '\u0301', '\u0308', 'ǅ', 'ʰ',
  'ー', '日', '本', 'テ', 'é', 'É', 'ß', 'Ω', 'ω', 'д', 'Д', '\u00a0', '\u3000', '٣', 'Ⅻ', '_', '-',
  '(', ')', '😀', '#', '\u200b', 'ǈ', 'ǲ', 'ﬁ', 'ᵃ'];
let seed = 12345; // a fixed linear congruential sequence: the file is the same every time
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const cases = [];
for (let i = 0; i < 1500; i++) {
  let text = '';
  for (let k = 1 + rnd(14); k > 0; k--) text += alphabet[rnd(alphabet.length)];
  cases.push({ text, words: [...text.matchAll(O200K_TOKEN_SPLIT_REGEX)].map((m) => m[0]) });
}
writeFileSync(`${out}.tmp`, JSON.stringify(cases, null, 0).replace(/\},\{/g, '},\n{') + '\n');
renameSync(`${out}.tmp`, out);
console.error(`wrote ${out}: ${cases.length} texts`);
