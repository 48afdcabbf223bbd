// `hearth serve --index DIR`: /v1/search answers from the index kept open between queries. Its
// hits are exactly what `hearth search --json` prints for the same query and mode (lexical,
// hybrid, vector, with tiny-bert's vectors); /health shows the store opened once, the vectors
// loaded once and, with --embedding-model, no model loaded for queries; a re-index is seen by
// the next query; a second index is chosen by "root"; bad requests get 4xx in OpenAI's shape.
// env: HEARTH_BIN, HEARTH_REF_DIR
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.HEARTH_BIN;
const EMBED = `${process.env.HEARTH_REF_DIR}/models/tiny-bert-F16.gguf`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-serve-search-'));
const servers = [];
after(() => {
  servers.forEach((s) => s.kill('SIGTERM'));
  fs.rmSync(tmp, { recursive: true, force: true });
});

function repo(name, files) {
  const root = path.join(tmp, name);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const hearth = (...args) => execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const A = repo('a', {
  'src/config.c': '/* Reads one configuration line into key and value. */\n' +
    'int parse_config_line(const char *line, char *key, char *value) {\n' +
    '    return sscanf(line, "%63[^=]=%63s", key, value) == 2;\n}\n',
  'src/cache.py': 'class LruCache:\n    """Evicts the least recently used entry."""\n\n' +
    '    def get(self, key):\n        value = self.items.pop(key)\n' +
    '        self.items[key] = value\n        return value\n',
  'src/retry.py': 'def retry_with_backoff(fn, attempts=5):\n    for i in range(attempts):\n' +
    '        try:\n            return fn()\n        except OSError:\n            time.sleep(2 ** i)\n',
});
const B = repo('b', { 'lib/greet.js': 'function greetVisitor(name) {\n  return `hello ${name}`;\n}\n' });
hearth('index', A, '--embedding-model', EMBED, '-t', '1');
hearth('index', B, '-t', '1');

function cliSearch(root, query, mode, k = 10) {
  const out = hearth('search', query, '--root', root, '--json', '--mode', mode, '-k', String(k),
    '-t', '1');
  return out.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

function startServer(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['serve', '--port', '0', '-t', '1', '-q', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolve(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

async function search(url, body) {
  const r = await fetch(`${url}/v1/search`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

const health = async (url) => (await (await fetch(`${url}/health`)).json()).indexes;

const QUERIES = ['parse configuration line', 'least recently used cache', 'retry with backoff',
  'sleep between attempts'];

// With the embedding model served: the index's queries embed with it (nothing else loads).
const withModel = await startServer(['--index', A, '--index', B, '--embedding-model', EMBED]);
// Only the index: its own model is loaded on the first vector query and kept.
const indexOnly = await startServer(['--index', A]);

test('hits equal hearth search --json in every mode, the index staying open', async () => {
  let n = 0;
  for (const mode of ['lexical', 'hybrid', 'vector'])
    for (const query of QUERIES) {
      const r = await search(withModel, { query, mode, k: 5 });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.object, 'list');
      assert.ok(r.json.data.length > 0, `${mode}: ${query}`);
      assert.deepEqual(r.json.data, cliSearch(A, query, mode, 5), `${mode}: ${query}`);
      n++;
    }
  const [a] = await health(withModel);
  assert.equal(a.root, fs.realpathSync(A));
  assert.equal(a.queries, n);
  assert.equal(a.store_opens, 1); // one SQLite connection for every query
  assert.equal(a.vector_loads, 1); // the vectors read once
  assert.equal(a.embed_opens, 0); // queries embedded by the served model
  assert.ok(a.vectors >= 3);
});

test('without --embedding-model the index model loads once, on the first vector query', async () => {
  const lexical = await search(indexOnly, { query: 'retry with backoff', mode: 'lexical' });
  assert.equal(lexical.status, 200);
  assert.equal((await health(indexOnly))[0].embed_opens, 0);
  for (const query of QUERIES) {
    const r = await search(indexOnly, { query }); // auto: hybrid, the index has vectors
    assert.deepEqual(r.json.data, cliSearch(A, query, 'hybrid'), query);
  }
  const [a] = await health(indexOnly);
  assert.equal(a.embed_opens, 1);
  assert.equal(a.vector_loads, 1);
  assert.equal(a.store_opens, 1);
});

test('"root" picks another served index; one not served is refused', async () => {
  const r = await search(withModel, { query: 'greet visitor', root: `${B}/` });
  assert.equal(r.status, 200);
  assert.equal(r.json.data[0].path, 'lib/greet.js');
  assert.deepEqual(r.json.data, cliSearch(B, 'greet visitor', 'lexical'));
  const other = await search(withModel, { query: 'x', root: tmp });
  assert.equal(other.status, 400);
  assert.match(other.json.error.message, /not an index this server serves/);
});

test('a re-index is seen by the next query (the searcher reloads only then)', async () => {
  fs.writeFileSync(path.join(A, 'src/tokens.py'),
    'def tokenize_sentence(text):\n    return text.split()\n');
  hearth('index', A, '-t', '1');
  const r = await search(withModel, { query: 'tokenize_sentence', mode: 'lexical', k: 1 });
  assert.equal(r.json.data[0].path, 'src/tokens.py');
  const hybrid = await search(withModel, { query: 'tokenize sentence', mode: 'hybrid' });
  assert.deepEqual(hybrid.json.data, cliSearch(A, 'tokenize sentence', 'hybrid'));
  const [a] = await health(withModel);
  assert.equal(a.store_opens, 1);
  assert.equal(a.vector_loads, 2); // the new generation's vectors, once
});

test('bad requests get 4xx with OpenAI-shaped errors', async () => {
  const bad = [
    [{}, /'query'/],
    [{ query: '   ' }, /'query'/],
    [{ query: 7 }, /'query'/],
    [{ query: 'x'.repeat(9000) }, /'query'/],
    [{ query: 'a', k: 0 }, /'k'/],
    [{ query: 'a', k: 1001 }, /'k'/],
    [{ query: 'a', mode: 'fuzzy' }, /'mode'/],
    [{ query: 'a', root: 5 }, /'root'/],
    [{ query: 'a', per_file: -1 }, /'per_file'/],
    ['[1, 2]', /JSON object/],
    ['{"query": ', /invalid JSON/],
  ];
  for (const [body, msg] of bad) {
    const r = await search(withModel, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, msg);
  }
  const get = await fetch(`${withModel}/v1/search`);
  assert.equal(get.status, 405);
});

test('a server without --index says how to get one; a missing index fails at start', async () => {
  const noIndex = await startServer(['--embedding-model', EMBED]);
  const r = await search(noIndex, { query: 'a' });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /--index/);
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
  await assert.rejects(startServer(['--index', empty]), /run 'hearth index' first/);
});
