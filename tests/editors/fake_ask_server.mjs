// A stand-in LSP server speaking the `hearth.ask` protocol of issue 7, for testing the editor side
// alone: the answer streams as `hearth/answer` notifications, then ends with done + sources and the
// command's response {answer, sources}. The test controls the pace: the server sends the first
// chunks, waits for a `fake/finish` notification, then finishes. A question starting with
// "whole:" gets its answer only in the response. Node built-ins only.
const ROOT = process.env.FAKE_ROOT || '/tmp';
let buf = Buffer.alloc(0);
let held = null; // the ask waiting for fake/finish
const commands = [];

function send(msg) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
  process.stdout.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
}

const loc = (path, s, e) => ({ uri: `file://${ROOT}/${path}`, range: { start: { line: s, character: 0 }, end: { line: e, character: 0 } } });
const SOURCES = [loc('src/alpha.c', 9, 19), loc('src/beta.py', 0, 4)];
const CHUNKS = ['The answer ', 'streams in\n', 'over two lines.'];

function onMessage(m) {
  if (m.method === 'initialize') {
    send({ id: m.id, result: { capabilities: { executeCommandProvider: { commands: ['hearth.ask', 'hearth.index'] } },
      serverInfo: { name: 'fake-hearth' } } });
  } else if (m.method === 'shutdown') {
    send({ id: m.id, result: null });
  } else if (m.method === 'exit') {
    process.exit(0);
  } else if (m.method === 'workspace/executeCommand') {
    const p = m.params || {};
    commands.push(p.command);
    if (p.command === 'hearth.index') {
      send({ id: m.id, result: { files: 3, chunks: 7 } });
    } else if (p.command === 'hearth.ask') {
      const q = p.arguments?.[0]?.question;
      if (typeof q !== 'string') {
        send({ id: m.id, error: { code: -32602, message: 'hearth.ask needs [{question}]' } });
        return;
      }
      const token = p.workDoneToken ?? 'ask-1';
      if (q.startsWith('whole:')) { // no stream: the answer only in the response
        send({ id: m.id, result: { answer: `Whole answer to ${q.slice(6).trim()}.`, sources: [SOURCES[1]] } });
        return;
      }
      send({ method: 'hearth/answer', params: { token, text: CHUNKS[0], done: false } });
      send({ method: 'hearth/answer', params: { token, text: CHUNKS[1], done: false } });
      held = { id: m.id, token, q };
    } else {
      send({ id: m.id, error: { code: -32601, message: `unknown command ${p.command}` } });
    }
  } else if (m.method === 'fake/finish' && held) {
    const { id, token } = held;
    held = null;
    send({ method: 'hearth/answer', params: { token, text: CHUNKS[2], done: true, sources: SOURCES } });
    send({ id, result: { answer: CHUNKS.join(''), sources: SOURCES } });
  } else if (m.method === 'fake/commands') {
    send({ id: m.id, result: commands });
  } else if (m.id !== undefined && m.method) {
    send({ id: m.id, error: { code: -32601, message: `unknown method ${m.method}` } });
  }
}

process.stdin.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
    if (!(len >= 0) || buf.length < end + 4 + len) return;
    const msg = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString('utf8'));
    buf = buf.subarray(end + 4 + len);
    onMessage(msg);
  }
});
process.stdin.on('end', () => process.exit(0));
