// The chat view: a webview panel where questions go to `hearth.ask` and answers stream in with
// clickable sources.
import * as vscode from 'vscode';
import { Answer } from './answer';
import { chatHtml, makeNonce, parsePageMessage } from './chatHtml';

export class ChatPanel {
  private panel: vscode.WebviewPanel | undefined;

  constructor(private readonly onAsk: (question: string) => void) {}

  show(): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel('hearth.chat', 'Hearth', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] });
    panel.webview.html = chatHtml(makeNonce(), panel.webview.cspSource);
    panel.webview.onDidReceiveMessage((raw) => {
      const m = parsePageMessage(raw);
      if (!m) return;
      if (m.type === 'ask') this.onAsk(m.question);
      else void openSource(m.uri, m.startLine, m.endLine);
    });
    panel.onDidDispose(() => { this.panel = undefined; });
    this.panel = panel;
  }

  post(a: Answer): void {
    const s = a.state;
    void this.panel?.webview.postMessage({ type: 'answer', id: a.token, question: s.question, text: s.text,
      sources: s.sources, done: s.done, error: s.error });
  }
}

async function openSource(uri: string, startLine: number, endLine: number): Promise<void> {
  try {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri, true));
    const range = new vscode.Range(startLine, 0, endLine, 0);
    await vscode.window.showTextDocument(doc, { selection: range, viewColumn: vscode.ViewColumn.One });
  } catch (e) {
    void vscode.window.showErrorMessage(`Hearth: cannot open ${uri}: ${String(e)}`);
  }
}
