// runtime/ under `hearth lsp` (issue 14): catalogue names in initializationOptions load through
// the model registry for every role (completion, chat, embedding), an unknown name is shown
// with the `hearth pull` hint, and completion + chat + embedding models run on one engine
// thread pool (the process's thread count does not grow by a pool per model) and one inference
// thread (runtime/'s scheduler: no second worker for hearth.ask / hearth.index).
// Models: the reference kit's tiny files, installed under catalogue file names (symlinks) in a
// temporary $XDG_DATA_HOME/hearth/models.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, killAll } from './client.mjs';

afterEach(killAll);

const REF = process.env.HEARTH_REF_DIR || '../shared/reference';
const FIM = resolve(`${REF}/models/tiny-qwen2-peaked-Q8_0.gguf`); // FIM tokens: completion
const CHAT = resolve(`${REF}/models/tiny-qwen2-peaked-F16.gguf`); // another file: chat
const EMBED = resolve(`${REF}/models/tiny-bert-F16.gguf`);
const skip = [FIM, CHAT, EMBED].every((f) => existsSync(f)) ? false : 'no reference models';
// catalogue name -> its file name (models/catalogue.c) -> the file installed under that name
const MODELS = {
  completionModel: ['qwen2.5-coder-0.5b:q8_0', 'qwen2.5-coder-0.5b-q8_0.gguf', FIM],
  chatModel: ['qwen3-coder-30b-a3b:q4_k_m', 'qwen3-coder-30b-a3b-q4_k_m.gguf', CHAT],
  embeddingModel: ['bge-small-en-v1.5:q8_0', 'bge-small-en-v1.5-q8_0.gguf', EMBED],
};
const NAMES = Object.fromEntries(Object.entries(MODELS).map(([k, [name]]) => [k, name]));
const THREADS = 4;

// A home with the models installed, an empty config (every role local) and a small repository.
function setup() {
  const home = mkdtempSync(join(tmpdir(), 'hearth-lsp-runtime-'));
  const dir = join(home, 'data', 'hearth', 'models');
  mkdirSync(dir, { recursive: true });
  for (const [, file, target] of Object.values(MODELS)) symlinkSync(target, join(dir, file));
  process.env.XDG_DATA_HOME = join(home, 'data');
  process.env.XDG_CONFIG_HOME = join(home, 'config');
  process.env.XDG_CACHE_HOME = join(home, 'cache');
  process.env.OMP_NUM_THREADS = '1'; // FAISS's OpenMP team would blur the thread count
  const root = join(home, 'repo');
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'src', 'config.c'),
    '/* Parses the configuration file. */\nint parse_config(const char *path) {\n  return path != 0;\n}\n');
  writeFileSync(join(root, 'src', 'widgets.py'), 'def frobnicate_widgets(ws):\n    return ws\n');
  return { home, root };
}

const threadsOf = (c) => readdirSync(`/proc/${c.proc.pid}/task`).length;
const loaded = (c) => c.waitFor((m) => m.method === 'window/logMessage' &&
  /completion model/.test(m.params.message), 'completion model load', 60000);

async function start(root, options) {
  const c = new Client(['--threads', String(THREADS)]);
  const r = await c.initialize({ rootUri: `file://${root}`, initializationOptions: { chatContextSize: 2048, ...options } });
  assert.ok(r.result, JSON.stringify(r.error));
  return c;
}

test('catalogue names load for completion, chat and embedding, on one engine thread pool', { skip, timeout: 120000 }, async () => {
  const { home, root } = setup();
  try {
    const c = await start(root, NAMES);
    const log = await loaded(c);
    assert.match(log.params.message, /completion model loaded: qwen2\.5-coder-0\.5b:q8_0/);
    // completion through the catalogue name: a suggestion
    const uri = `file://${root}/src/widgets.py`;
    c.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: 'def f(x):\n    return ' } });
    const done = await c.request('textDocument/inlineCompletion', { textDocument: { uri },
      position: { line: 1, character: 11 }, context: { triggerKind: 2 } });
    assert.ok(done.result, JSON.stringify(done.error));
    assert.ok(done.result.hearth.nPrompt > 0 && done.result.hearth.nGenerated > 0, 'the model ran');
    const one = threadsOf(c); // one model loaded, its context on the pool

    // embedding through the catalogue name: the index gets vectors
    const ix = await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    assert.ok(ix.result, JSON.stringify(ix.error));
    assert.ok(ix.result.vectors > 0, `vectors written: ${JSON.stringify(ix.result)}`);

    // chat through the catalogue name. A debugWork job sent once the answer streams runs in the
    // FIM lane at the answer's next yield, so the answer pauses with the chat context alive: the
    // thread count is read then.
    c.send({ jsonrpc: '2.0', id: 9002, method: 'workspace/executeCommand', params: { command: 'hearth.ask',
      arguments: [{ question: 'what does parse_config do?', mode: 'hybrid', maxTokens: 64 }] } });
    const first = await c.waitFor((m) => (m.method === 'hearth/answer' && m.params.token === 9002) ||
      (m.id === 9002 && m.error), 'first answer piece', 60000);
    assert.equal(first.method, 'hearth/answer', `hearth.ask failed: ${JSON.stringify(first)}`);
    c.send({ jsonrpc: '2.0', id: 9001, method: 'hearth/debugWork', params: { ms: 2000 } });
    console.log(`threads: ${one} with one model, ${threadsOf(c)} with three`);
    const all = threadsOf(c); // completion + chat contexts alive, the embedding model used
    const names = readdirSync(`/proc/${c.proc.pid}/task`)
      .map((t) => readFileSync(`/proc/${c.proc.pid}/task/${t}/comm`, 'utf8').trim());
    const work = await c.waitFor((m) => m.id === 9001, 'debugWork reply', 30000);
    const ask = await c.waitFor((m) => m.id === 9002 && (m.result || m.error), 'the answer', 60000);
    assert.ok(ask.result, JSON.stringify(ask.error));
    assert.ok(ask.result.sources.length > 0);

    // one inference thread for completion, chat and the index (no second worker): the loop,
    // the scheduler and the engine pool's workers, nothing else (the pool's workers, started from
    // the scheduler thread, inherit its name "hearth-sched")
    assert.equal(work.result.schedThreads, 1);
    assert.equal(all, 1 + 1 + (work.result.engineThreads - 1), `threads: ${names.join(',')}`);
    // one pool: a second pool would add THREADS - 1 workers
    assert.ok(all - one < THREADS - 1, `threads: ${one} with one model, ${all} with three`);
    assert.equal(work.result.engineThreads, THREADS, 'the pool is sized to the request, once');
    // the registry loaded the completion and chat files once each, under their catalogue names
    const byPath = Object.fromEntries(work.result.models.map((m) => [m.path, m]));
    const dir = join(home, 'data', 'hearth', 'models');
    assert.equal(byPath[join(dir, MODELS.completionModel[1])]?.loads, 1, JSON.stringify(work.result.models));
    assert.equal(byPath[join(dir, MODELS.chatModel[1])]?.loads, 1, JSON.stringify(work.result.models));
    await c.close();
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('a name that is not installed is shown with how to install it', { skip, timeout: 60000 }, async () => {
  const { home, root } = setup();
  try {
    const c = await start(root, { completionModel: 'qwen2.5-coder-7b:q4_k_m', chatModel: 'no-such-chat-model' });
    const shown = (re) => c.waitFor((m) => m.method === 'window/showMessage' && re.test(m.params.message),
      `showMessage ${re}`, 30000);
    const comp = await shown(/qwen2\.5-coder-7b:q4_k_m/);
    assert.match(comp.params.message, /not installed.*hearth pull qwen2\.5-coder-7b:q4_k_m/);
    const chat = await shown(/no-such-chat-model/);
    assert.match(chat.params.message, /chat model.*hearth pull/);
    // settings.hearth takes names too: the installed catalogue name now loads
    c.notify('workspace/didChangeConfiguration', { settings: { hearth: { completionModel: NAMES.completionModel } } });
    const ok = await c.waitFor((m) => m.method === 'window/logMessage' &&
      /completion model loaded: qwen2\.5-coder-0\.5b:q8_0/.test(m.params.message), 'load after settings', 60000);
    assert.ok(ok);
    await c.close();
  } finally { rmSync(home, { recursive: true, force: true }); }
});
