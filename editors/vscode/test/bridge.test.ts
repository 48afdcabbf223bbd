// Unit tests of the plain modules (no VS Code needed): node --test on the compiled JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cursorParams, debounce, inlineParams, Latest, snippetText, toItems } from '../src/bridge';

const at = { line: 3, character: 7 };

test('inline params name the document, the position and the trigger kind', () => {
  assert.deepEqual(inlineParams('file:///a.py', at, true),
    { textDocument: { uri: 'file:///a.py' }, position: at, context: { triggerKind: 2 } });
  assert.equal(inlineParams('file:///a.py', at, false).context.triggerKind, 1);
});

test('hearth/cursor params name the document and the position only', () => {
  assert.deepEqual(cursorParams('file:///a.py', { ...at, extra: 1 } as typeof at), { textDocument: { uri: 'file:///a.py' }, position: at });
});

test('the server reply (InlineCompletionList) becomes items at its range', () => {
  const range = { start: at, end: at };
  const reply = { items: [{ insertText: 'return n\n    pass', range }], hearth: { nPrompt: 10 } };
  assert.deepEqual(toItems(reply, at), [{ insertText: 'return n\n    pass', range }]);
});

test('a bare item array is accepted; ranges not containing the cursor move to the cursor', () => {
  const far = { start: { line: 9, character: 0 }, end: { line: 9, character: 1 } };
  const items = toItems([{ insertText: 'a', range: far }, { insertText: 'b' }], at);
  assert.deepEqual(items.map((i) => i.range), [{ start: at, end: at }, { start: at, end: at }]);
  const wide = { start: { line: 3, character: 2 }, end: { line: 3, character: 9 } };
  assert.deepEqual(toItems([{ insertText: 'x', range: wide }], at)[0].range, wide);
});

test('hostile or empty replies give no items and never throw', () => {
  for (const r of [null, undefined, 42, 'x', {}, { items: 5 }, { items: [null, 1, {}, { insertText: '' }, { insertText: 7 }] },
    [{ insertText: 'ok', range: { start: { line: -1, character: 0 }, end: at } }]]) {
    const items = toItems(r, at);
    assert.ok(Array.isArray(items));
    for (const i of items) assert.equal(i.insertText, 'ok');
  }
});

test('snippet StringValues give their plain text', () => {
  assert.equal(snippetText('for ${1:i} in ${2:range(n)}:$0'), 'for i in range(n):');
  assert.equal(snippetText('cost \\$5'), 'cost $5');
  assert.deepEqual(toItems({ items: [{ insertText: { kind: 'snippet', value: 'f(${1:x})' } }] }, at)[0].insertText, 'f(x)');
});

test('a newer request cancels the older one', () => {
  const l = new Latest();
  let cancelled = 0;
  const first = l.begin(() => cancelled++);
  assert.equal(first(), true);
  const second = l.begin(() => cancelled++);
  assert.equal(cancelled, 1);
  assert.equal(first(), false);
  assert.equal(second(), true);
  l.end(first); // an old request ending does not clear the newer one
  assert.equal(second(), true);
  l.end(second);
  l.begin(() => cancelled++);
  assert.equal(cancelled, 1, 'nothing in flight to cancel');
  assert.equal(l.cancelled, 1);
});

test('debounce waits, and an abort ends the wait early with false', async () => {
  assert.equal(await debounce(0, () => undefined), true);
  assert.equal(await debounce(5, () => undefined), true);
  let abort = (): void => undefined;
  const p = debounce(60000, (a) => { abort = a; });
  abort();
  assert.equal(await p, false);
});
