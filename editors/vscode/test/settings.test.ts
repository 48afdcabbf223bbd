import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, modelLabel, needsRestart, readSettings, serverCommand, serverOptions } from '../src/settings';
import { indexProgress, statusText } from '../src/status';

const from = (o: Record<string, unknown>) => (k: string) => o[k];

test('unset settings give the defaults, and the server starts as `hearth lsp`', () => {
  const s = readSettings(from({}));
  assert.deepEqual(s, DEFAULTS);
  assert.deepEqual(serverCommand(s), { command: 'hearth', args: ['lsp'] });
  assert.deepEqual(serverOptions(s), { prefillAhead: true });
});

test('user settings go to the command line and initializationOptions', () => {
  const s = readSettings(from({ serverPath: ' /opt/hearth ', serverArgs: ['--threads', '4'], completionModel: '/m/coder.gguf',
    chatModel: '/m/chat.gguf', embeddingModel: '/m/embed.gguf', threads: 2, contextSize: 2048, 'completions.enabled': false, 'completions.debounceMs': 10, languages: ['c'],
    'completions.prefillAhead': false }));
  assert.deepEqual(serverCommand(s), { command: '/opt/hearth', args: ['lsp', '--threads', '4'] });
  assert.deepEqual(serverOptions(s), { completionModel: '/m/coder.gguf', chatModel: '/m/chat.gguf',
    embeddingModel: '/m/embed.gguf', threads: 2, contextSize: 2048, prefillAhead: false });
  assert.equal(s.completionsEnabled, false);
  assert.equal(s.debounceMs, 10);
  assert.deepEqual(s.languages, ['c']);
});

test('bad values fall back to defaults instead of reaching the server', () => {
  const s = readSettings(from({ serverPath: '', serverArgs: ['ok', 3], threads: -1, contextSize: 1.5,
    'completions.enabled': 'yes', 'completions.debounceMs': 1e9, languages: 'c', completionModel: 42,
    'completions.prefillAhead': 'no' }));
  assert.deepEqual(s, DEFAULTS);
  assert.deepEqual(serverOptions(readSettings(from({ contextSize: 10 }))), { prefillAhead: true },
    'a context under 64 is not sent');
});

test('only the command line, languages and chat/embedding models need a restart', () => {
  const a = readSettings(from({}));
  assert.equal(needsRestart(a, readSettings(from({ completionModel: '/x.gguf', threads: 3 }))), false);
  assert.equal(needsRestart(a, readSettings(from({ serverPath: '/bin/hearth' }))), true);
  assert.equal(needsRestart(a, readSettings(from({ serverArgs: ['--ctx', '512'] }))), true);
  assert.equal(needsRestart(a, readSettings(from({ languages: ['c'] }))), true);
  assert.equal(needsRestart(a, readSettings(from({ chatModel: '/m/chat.gguf' }))), true);
  assert.equal(needsRestart(a, readSettings(from({ embeddingModel: '/m/e.gguf' }))), true);
});

test('the status bar shows model, indexing progress and the last latency', () => {
  assert.equal(modelLabel('/models/qwen2.5-coder-1.5b-Q8_0.gguf'), 'qwen2.5-coder-1.5b-Q8_0');
  assert.equal(modelLabel(''), 'no model');
  const idle = statusText({ running: true, enabled: true, model: '/m/coder.gguf', loading: false, lastLatencyMs: 41.6 });
  assert.equal(idle.text, '$(sparkle) hearth 42 ms');
  assert.match(idle.tooltip, /Model: coder/);
  assert.match(idle.tooltip, /Completions: on/);
  const indexing = statusText({ running: true, enabled: true, model: '', loading: false, indexing: { message: 'chunks', percentage: 37.2 } });
  assert.equal(indexing.text, '$(sync~spin) hearth indexing 37%');
  assert.match(indexing.tooltip, /Indexing: chunks 37%/);
  assert.match(indexing.tooltip, /Model: server's default/);
  const off = statusText({ running: true, enabled: false, model: '', loading: false });
  assert.equal(off.text, '$(circle-slash) hearth');
  assert.match(statusText({ running: false, enabled: true, model: '', loading: false }).text, /debug-disconnect/);
  assert.match(statusText({ running: true, enabled: true, model: '', loading: false, error: 'boom' }).tooltip, /Error: boom/);
});

test('index progress: percentage, else files of filesTotal; end clears it', () => {
  let st = indexProgress({ kind: 'begin', title: 'Indexing', message: 'walking' });
  assert.deepEqual(st, { message: 'walking', percentage: undefined });
  st = indexProgress({ kind: 'report', message: 'src/a.c', files: 3, filesTotal: 12, chunks: 40 }, st);
  assert.deepEqual(st, { message: 'src/a.c', percentage: 25 });
  st = indexProgress({ kind: 'report', percentage: 80 }, st);
  assert.deepEqual(st, { message: 'src/a.c', percentage: 80 });
  assert.deepEqual(indexProgress({ kind: 'report', percentage: 500, files: 1, filesTotal: 0 }, st), st, 'bad numbers ignored');
  assert.deepEqual(indexProgress('junk', st), st);
  assert.equal(indexProgress({ kind: 'end', message: 'done' }, st), undefined);
});
