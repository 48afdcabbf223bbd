// A stand-in LSP server the test steers, to see what the editor shows for each thing a hearth
// server can send: the test's own notifications make it send a message (fake/send), choose how
// textDocument/inlineCompletion is answered (fake/mode: an error, held until fake/release, or a
// text), or exit with a code (fake/exit). fake/count replies how many completions were asked.
// Node built-ins only.
let buf = Buffer.alloc(0);
let mode = { kind: 'text', text: 'x' };
let held = [];
let asked = 0;

function send(msg) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
  process.stdout.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
}

function answer(id, text, pos) {
  send({ id, result: { items: [{ insertText: text, range: { start: pos, end: pos } }] } });
}

function onMessage(m) {
  const p = m.params || {};
  if (m.method === 'initialize') {
    send({ id: m.id, result: { capabilities: { textDocumentSync: 1, inlineCompletionProvider: true }, serverInfo: { name: 'fake-hearth' } } });
  } else if (m.method === 'shutdown') {
    send({ id: m.id, result: null });
  } else if (m.method === 'exit') {
    process.exit(0);
  } else if (m.method === 'textDocument/inlineCompletion') {
    asked++;
    if (mode.kind === 'error') send({ id: m.id, error: mode.error });
    else if (mode.kind === 'hold') held.push({ id: m.id, pos: p.position });
    else answer(m.id, mode.text, p.position);
  } else if (m.method === 'fake/send') {
    send(p.msg);
  } else if (m.method === 'fake/mode') {
    mode = p;
  } else if (m.method === 'fake/release') {
    for (const h of held) answer(h.id, p.text, h.pos);
    held = [];
  } else if (m.method === 'fake/exit') {
    process.exit(p.code);
  } else if (m.method === 'fake/count') {
    send({ id: m.id, result: asked });
  } else if (m.id !== undefined && m.method) {
    send({ id: m.id, error: { code: -32601, message: `unknown method ${m.method}` } });
  } // replies to our own requests (workDoneProgress/create) need nothing
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
