import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advice, Notices } from '../src/notice';
import { statusText } from '../src/status';

test('a problem is shown once with what to do, whatever prefix the server put on it', () => {
  const n = new Notices();
  const first = n.problem('hearth: model "x" (llama) has no fill-in-the-middle tokens: completion needs a base code model');
  assert.ok(first && first.startsWith('Hearth: model "x"') && first.includes('FIM tokens'), first);
  assert.equal(n.requestError({ code: -32803, message: 'completion: model "x" (llama) has no fill-in-the-middle tokens: completion needs a base code model' }), undefined);
  assert.equal(n.requestError({ code: -32800, message: 'cancelled' }), undefined, 'a cancellation is no problem');
  const other = n.requestError({ code: -32803, message: 'completion: no completion model: set initializationOptions.completionModel or --completion-model' });
  assert.ok(other && other.includes('hearth pull qwen2.5-coder-1.5b'), other);
  n.reset();
  assert.ok(n.problem('model "x" (llama) has no fill-in-the-middle tokens'), 'a new server: news again');
});

test('advice: the not-installed message already names the pull; others say where to look', () => {
  assert.equal(advice("x is not installed in /m: run 'hearth pull x'"), undefined);
  assert.ok(advice('/m/a.gguf: no such file')?.includes('hearth pull --list'));
  assert.ok(advice('the server stopped')?.includes('Restart Server'));
});

test('hearth/model drives loading; showMessage errors are problems, info passes through', () => {
  const n = new Notices();
  assert.equal(n.onModel({ state: 'loading', model: '/m/coder.gguf' }), undefined);
  assert.equal(n.loading, '/m/coder.gguf');
  const st = statusText({ running: true, enabled: true, model: '', loading: true, loadingModel: n.loading });
  assert.equal(st.text, '$(sync~spin) hearth loading coder…');
  assert.equal(n.onModel({ state: 'loaded', model: '/m/coder.gguf' }), undefined);
  assert.equal(n.loading, undefined);
  assert.equal(n.model, '/m/coder.gguf');
  assert.ok(n.onModel({ state: 'failed', model: 'q', message: "completion model q: q is not installed in /m: run 'hearth pull q'" }));
  assert.equal(n.onShowMessage({ type: 1, message: "hearth: completion model q: q is not installed in /m: run 'hearth pull q'" }), undefined);
  assert.deepEqual(n.onShowMessage({ type: 3, message: 'indexed' }), { text: 'indexed', problem: false });
});

test('the status bar spins while a suggestion is computed', () => {
  assert.equal(statusText({ running: true, enabled: true, model: '', loading: false, pending: true }).text, '$(sync~spin) hearth');
  assert.equal(statusText({ running: true, enabled: true, model: '', loading: false }).text, '$(sparkle) hearth');
});
