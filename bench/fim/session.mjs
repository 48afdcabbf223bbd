// A realistic editing session, as a list of events on a virtual clock: a real source file is
// opened with a block of its lines missing, and the block is typed in character by character at
// ~8 characters/s (random gaps, longer pauses at word and line ends, "thinking" pauses), with a
// cursor jump to another function and back, and deletions (backspacing a word and retyping it,
// deleting a whole line). An editor asks for an inline completion when the typist pauses for
// longer than the debounce; those moments become requests. Deterministic for a given seed.

// Deterministic generator, so every run replays the same session.
export function rng(seed) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const between = (r, a, b) => a + (b - a) * r();

// Events: { t (ms), kind: 'edit', start, end, text } (JS string indices into the document as it
// is at that moment) and { t, kind: 'request', cursor, why }.
export function makeSession(source, opts = {}) {
  const { typedLines = 12, startFraction = 0.55, debounceMs = 150, seed = 1 } = opts;
  const r = rng(seed);
  const lines = source.split('\n').map((l) => l + '\n');
  // The block to type starts at a line with code (not blank), about startFraction into the file.
  let first = Math.floor(lines.length * startFraction);
  while (first < lines.length - typedLines && !lines[first].trim()) first++;
  const block = lines.slice(first, first + typedLines).join('');
  const start = lines.slice(0, first).join('').length;
  const initial = lines.slice(0, first).join('') + lines.slice(first + typedLines).join('');

  const events = [];
  let t = 0, doc = initial, cursor = start;
  const edit = (a, b, text) => {
    events.push({ t, kind: 'edit', start: a, end: b, text });
    doc = doc.slice(0, a) + text + doc.slice(b);
  };
  // One keystroke, then the gap before the next one; the editor asks when the gap outlasts
  // the debounce.
  const key = (a, b, text, gap) => {
    edit(a, b, text);
    cursor = a + text.length;
    const why = text[0] === '\n' ? 'newline' : 'pause';
    if (gap >= debounceMs) events.push({ t: t + debounceMs, kind: 'request', cursor, why });
    t += gap;
  };
  const gapAfter = (ch) => {
    let g = between(r, 70, 180); // mean 125 ms: 8 characters/s
    if (ch === ' ' || ch === '(' || ch === ',') g += r() < 0.3 ? between(r, 100, 400) : 0;
    if (ch === ';' || ch === '{' || ch === '}') g += between(r, 200, 700);
    return g;
  };
  const typeText = (text) => {
    // A newline comes with the next line's indentation, as editors auto-indent.
    const units = text.match(/\n[ \t]*|[\s\S]/gu) || [];
    for (const u of units) {
      let gap = gapAfter(u);
      if (u[0] === '\n') gap = between(r, 400, 1200) + (r() < 0.2 ? between(r, 2000, 4000) : 0);
      key(cursor, cursor, u, gap);
    }
  };

  events.push({ t, kind: 'request', cursor, why: 'cold' });
  t += 1000;
  const half = block.indexOf('\n', Math.floor(block.length / 2)) + 1 || block.length;
  typeText(block.slice(0, half));

  // Jump up into an earlier function: a new line of code after some line ~40 % of the way up.
  const back = cursor;
  let at = doc.lastIndexOf('\n', Math.floor(start * 0.6)) + 1;
  at = doc.indexOf('\n', at); // the end of that line
  t += between(r, 1500, 3000);
  cursor = at;
  events.push({ t, kind: 'request', cursor, why: 'jump' });
  t += between(r, 800, 1500);
  const indent = (doc.slice(doc.lastIndexOf('\n', at - 1) + 1, at).match(/^[ \t]*/) || [''])[0];
  typeText('\n' + indent + '/* checked by the caller */');
  const inserted = cursor - at;

  // Back to where we were, and on with the block.
  t += between(r, 1500, 3000);
  cursor = back + inserted;
  events.push({ t, kind: 'request', cursor, why: 'jump' });
  t += between(r, 800, 1500);
  typeText(block.slice(half));

  // Backspace over the last word of the block and type it again.
  const word = /(\w+)\W*$/.exec(doc.slice(0, cursor));
  if (word) {
    const wordStart = word.index, wordEnd = word.index + word[1].length;
    t += between(r, 800, 1500);
    cursor = wordEnd;
    events.push({ t, kind: 'request', cursor, why: 'jump' });
    t += between(r, 500, 1000);
    while (cursor > wordStart) key(cursor - 1, cursor, '', between(r, 80, 200));
    typeText(word[1]);
  }

  // Delete a whole line above the cursor (one edit), then type on.
  const lineStart = doc.lastIndexOf('\n', doc.lastIndexOf('\n', cursor - 1) - 1) + 1;
  const lineEnd = doc.indexOf('\n', lineStart) + 1;
  t += between(r, 1000, 2000);
  edit(lineStart, lineEnd, '');
  cursor -= lineEnd - lineStart;
  events.push({ t: t + debounceMs, kind: 'request', cursor, why: 'delete' });
  t += between(r, 800, 1500);
  cursor = doc.indexOf('\n', cursor); // to the end of the line, and open a new one
  typeText('\n' + (doc.slice(doc.lastIndexOf('\n', cursor - 1) + 1, cursor).match(/^[ \t]*/) || [''])[0]);

  const typed = events.filter((e) => e.kind === 'edit').length;
  return { initial, events, final: doc, typed, seconds: t / 1000, firstLine: first };
}
