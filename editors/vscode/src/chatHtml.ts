// The chat webview's page. Answers arrive as messages and are rendered with textContent (never as
// HTML), sources become links that ask the extension to open the file at the lines. A strict
// Content-Security-Policy allows only this page's own nonce-tagged script. No `vscode` import.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function makeNonce(random: () => number = Math.random): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(random() * chars.length)];
  return s;
}

export function chatHtml(nonce: string, cspSource: string): string {
  const csp = `default-src 'none'; style-src ${escapeHtml(cspSource)} 'unsafe-inline'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Hearth</title>
<style>
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 12px; }
  .qa { border-bottom: 1px solid var(--vscode-panel-border); padding: 8px 0; }
  .q { font-weight: bold; margin-bottom: 4px; }
  .a { white-space: pre-wrap; font-family: var(--vscode-editor-font-family); }
  .err { color: var(--vscode-errorForeground); }
  .src a { display: inline-block; margin-right: 10px; cursor: pointer; color: var(--vscode-textLink-foreground); }
  .busy::after { content: ' …'; }
  form { position: sticky; bottom: 0; background: var(--vscode-editor-background); padding: 8px 0; display: flex; gap: 6px; }
  input { flex: 1; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 4px; }
</style></head>
<body>
<div id="log"></div>
<form id="f"><input id="q" placeholder="Ask about the codebase" autofocus><button>Ask</button></form>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const views = new Map();
  document.getElementById('f').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = document.getElementById('q');
    if (q.value.trim()) vscode.postMessage({ type: 'ask', question: q.value.trim() });
    q.value = '';
  });
  function view(id, question) {
    let v = views.get(id);
    if (v) return v;
    const div = document.createElement('div'); div.className = 'qa';
    const q = document.createElement('div'); q.className = 'q'; q.textContent = question;
    const a = document.createElement('div'); a.className = 'a';
    const src = document.createElement('div'); src.className = 'src';
    div.append(q, a, src); log.append(div);
    v = { a, src }; views.set(id, v);
    return v;
  }
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (!m || m.type !== 'answer') return;
    const v = view(m.id, m.question);
    v.a.textContent = m.error ? m.text + (m.text ? '\\n' : '') + 'error: ' + m.error : m.text;
    v.a.className = 'a' + (m.error ? ' err' : '') + (m.done ? '' : ' busy');
    v.src.replaceChildren();
    for (const s of m.sources || []) {
      const link = document.createElement('a');
      link.textContent = s.label; link.title = s.uri;
      link.addEventListener('click', () => vscode.postMessage({ type: 'open', uri: s.uri, startLine: s.startLine, endLine: s.endLine }));
      v.src.append(link);
    }
    window.scrollTo(0, document.body.scrollHeight);
  });
</script>
</body></html>`;
}

/** A message from the page, checked (the page is ours, but its messages still get validated). */
export type PageMessage =
  | { type: 'ask'; question: string }
  | { type: 'open'; uri: string; startLine: number; endLine: number };

export function parsePageMessage(m: unknown): PageMessage | undefined {
  if (m === null || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (o.type === 'ask' && typeof o.question === 'string' && o.question.trim())
    return { type: 'ask', question: o.question.trim() };
  if (o.type === 'open' && typeof o.uri === 'string' && Number.isInteger(o.startLine)) {
    const startLine = Math.max(0, o.startLine as number);
    const endLine = Number.isInteger(o.endLine) ? Math.max(startLine, o.endLine as number) : startLine;
    return { type: 'open', uri: o.uri, startLine, endLine };
  }
  return undefined;
}
