// Hearth for VS Code: starts `hearth lsp` over stdio with vscode-languageclient, bridges the
// server's textDocument/inlineCompletion into an InlineCompletionItemProvider (the client library
// has it only as a proposed feature) with streamed suggestions (stream.ts), and adds the status bar
// item, the commands and the chat view.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, State, TransportKind, WorkDoneProgress } from 'vscode-languageclient/node';
import { Answers } from './answer';
import { cursorParams, debounce, inlineParams, Item, Latest, toItems } from './bridge';
import { ChatPanel } from './chat';
import { Streams, Throttle } from './stream';
import { HearthSettings, needsRestart, readSettings, serverCommand, serverOptions } from './settings';
import { indexProgress, StatusState, statusText } from './status';
import { Notices } from './notice';

let client: LanguageClient | undefined;
let settings: HearthSettings;
let statusItem: vscode.StatusBarItem;
const status: StatusState = { running: false, enabled: true, model: '', loading: false };
const answers = new Answers();
let chat: ChatPanel;
let seq = 0;
const notices = new Notices();
let stopping = false; // we stop the client: its stopping is no problem

// A problem's message, once (notices dedupes): a warning with what to do.
function warn(text: string | undefined): void {
  if (text) void vscode.window.showWarningMessage(text);
}
const streams = new Streams();
// A suggestion that grew: VS Code asks the provider again, which serves the latest text.
const retrigger = new Throttle(40, () => {
  void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
});

function loadSettings(): HearthSettings {
  const cfg = vscode.workspace.getConfiguration('hearth');
  return readSettings((k) => cfg.get(k));
}

function updateStatus(): void {
  status.enabled = settings.completionsEnabled;
  status.loading = notices.loading !== undefined;
  status.loadingModel = notices.loading;
  status.model = settings.completionModel;
  const { text, tooltip } = statusText(status);
  statusItem.text = text;
  statusItem.tooltip = tooltip;
}

async function startClient(ctx: vscode.ExtensionContext): Promise<void> {
  const { command, args } = serverCommand(settings);
  const serverOpts: ServerOptions = { command, args, transport: TransportKind.stdio };
  const clientOpts: LanguageClientOptions = {
    documentSelector: settings.languages.flatMap((language) => [{ scheme: 'file', language }, { scheme: 'untitled', language }]),
    initializationOptions: { ...serverOptions(settings), modelStatus: true }, // hearth/model (notice.ts)
    outputChannelName: 'Hearth',
  };
  const c = new LanguageClient('hearth', 'Hearth', serverOpts, clientOpts);
  c.onDidChangeState((e) => {
    status.running = e.newState === State.Running;
    if (e.oldState === State.Running && e.newState === State.Stopped && !stopping) {
      notices.loading = undefined;
      warn(notices.problem('the server stopped'));
    }
    updateStatus();
  });
  client = c;
  notices.reset();
  try {
    await c.start();
  } catch (e) {
    status.error = `cannot start ${command}: ${String(e)}`;
    warn(notices.problem(`cannot start ${command}: ${String(e)}. Put hearth on PATH or set hearth.serverPath.`));
    updateStatus();
    return;
  }
  status.error = undefined;
  // The server's errors go through notices (once each, with what to do) instead of the client's
  // default (every time); hearth/model drives the status bar's loading state.
  ctx.subscriptions.push(c.onNotification('window/showMessage', (params: unknown) => {
    const m = notices.onShowMessage(params);
    if (m && m.problem) warn(m.text);
    else if (m) void vscode.window.showInformationMessage(m.text);
  }), c.onNotification('hearth/model', (params: unknown) => {
    warn(notices.onModel(params));
    updateStatus();
  }));
  ctx.subscriptions.push(c.onNotification('hearth/answer', (params: unknown) => {
    const a = answers.route(params);
    if (a) chat.post(a);
  }), c.onNotification('hearth/inlineCompletionPartial', (params: unknown) => {
    if (streams.onPartial(params)) retrigger.poke();
  }));
  updateStatus();
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  stopping = true;
  if (c) await c.stop().catch(() => undefined);
  stopping = false;
}

class InlineProvider implements vscode.InlineCompletionItemProvider {
  private latest = new Latest();

  async provideInlineCompletionItems(doc: vscode.TextDocument, pos: vscode.Position,
    context: vscode.InlineCompletionContext, token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    const c = client;
    if (!settings.completionsEnabled || !c || c.state !== State.Running) return undefined;
    if (!settings.languages.includes(doc.languageId)) return undefined;
    const uri = c.code2ProtocolConverter.asUri(doc.uri);
    const at = { line: pos.line, character: pos.character };
    const served = streams.serve(uri, at, doc.lineAt(pos.line).text); // a suggestion streaming in
    if (served.kind === 'show') return [toVsItem(served.item)];
    if (served.kind === 'wait') return undefined;
    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    let abortWait = (): void => undefined;
    const sub = token.onCancellationRequested(() => abortWait());
    try {
      if (automatic && !(await debounce(settings.debounceMs, (a) => { abortWait = a; }))) return undefined;
      if (token.isCancellationRequested) return undefined;
      this.send(c, uri, at, doc.lineAt(pos.line).text, automatic);
      await streams.first(this.streamToken);
      if (token.isCancellationRequested) return undefined;
      const now = streams.serve(uri, at, doc.lineAt(pos.line).text);
      return now.kind === 'show' ? [toVsItem(now.item)] : undefined;
    } finally {
      sub.dispose();
    }
  }

  private streamToken = '';

  // Sends the request; it outlives this provide call (the stream is served to later ones) and ends
  // with its reply, a newer request, or typing that contradicts it (streams.serve cancels it).
  private send(c: LanguageClient, uri: string, at: { line: number; character: number }, line: string, automatic: boolean): void {
    const cts = new vscode.CancellationTokenSource();
    const isLatest = this.latest.begin(() => cts.cancel());
    const stream = streams.begin(uri, at, line, () => cts.cancel());
    this.streamToken = stream;
    const t0 = Date.now();
    status.pending = true; // the status bar spins until the suggestion (or its failure) arrives
    updateStatus();
    c.sendRequest('textDocument/inlineCompletion', { ...inlineParams(uri, at, automatic), hearth: { stream } }, cts.token)
      .then((result) => {
        status.lastLatencyMs = Date.now() - t0;
        status.error = undefined;
        updateStatus();
        if (streams.finish(stream, toItems(result, at)[0]?.insertText ?? '')) retrigger.poke();
      }, (e: unknown) => {
        streams.finish(stream, undefined);
        if (!cts.token.isCancellationRequested) {
          status.error = e instanceof Error ? e.message : String(e);
          warn(notices.requestError(e));
          updateStatus();
        }
      })
      .finally(() => {
        if (isLatest()) {
          status.pending = false;
          updateStatus();
        }
        this.latest.end(isLatest);
        cts.dispose();
      });
  }
}

function toVsItem(it: Item): vscode.InlineCompletionItem {
  return new vscode.InlineCompletionItem(it.insertText, new vscode.Range(it.range.start.line, it.range.start.character,
    it.range.end.line, it.range.end.character));
}

// hearth/cursor after the cursor moves without an edit or another editor comes to the front
// (debounced; an edit brings its own inline request): the server evaluates the next suggestion's
// prompt before the user types.
function cursorNotifier(debounceMs: number): vscode.Disposable {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const versions = new Map<string, number>(); // document -> version at its last selection event
  const send = (editor: vscode.TextEditor | undefined): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      const c = client;
      if (!editor || !settings.completionsEnabled || !settings.prefillAhead || !c || c.state !== State.Running) return;
      if (!settings.languages.includes(editor.document.languageId)) return;
      const uri = c.code2ProtocolConverter.asUri(editor.document.uri);
      void c.sendNotification('hearth/cursor', cursorParams(uri, editor.selection.active));
    }, debounceMs);
  };
  return vscode.Disposable.from(
    vscode.window.onDidChangeActiveTextEditor(send),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      const key = e.textEditor.document.uri.toString();
      const edited = versions.has(key) && versions.get(key) !== e.textEditor.document.version;
      versions.set(key, e.textEditor.document.version);
      if (!edited) send(e.textEditor);
    }),
    { dispose: () => { if (timer) clearTimeout(timer); } });
}

function ask(question: string): void {
  chat.show();
  const c = client;
  const token = `hearth-ask-${++seq}`;
  const a = answers.start(token, question);
  chat.post(a);
  if (!c || c.state !== State.Running) {
    a.onError('the hearth server is not running');
    chat.post(a);
    return;
  }
  const progress = c.onProgress(WorkDoneProgress.type, token, (v) => {
    const text = (v as { text?: unknown }).text;
    if (typeof text === 'string' && answers.route({ token, text })) chat.post(a);
  });
  c.sendRequest('workspace/executeCommand', { command: 'hearth.ask', arguments: [{ question }], workDoneToken: token })
    .then((r) => a.onResponse(r), (e: unknown) => a.onError(e instanceof Error ? e.message : String(e)))
    .finally(() => { progress.dispose(); chat.post(a); });
}

async function index(): Promise<void> {
  const c = client;
  if (!c || c.state !== State.Running) {
    void vscode.window.showErrorMessage('Hearth: the server is not running');
    return;
  }
  const token = `hearth-index-${++seq}`;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  status.indexing = { message: 'starting' };
  updateStatus();
  const progress = c.onProgress(WorkDoneProgress.type, token, (v) => {
    if (v.kind === 'end') return; // the response ends it
    status.indexing = indexProgress(v, status.indexing);
    updateStatus();
  });
  try {
    const r = await c.sendRequest('workspace/executeCommand', { command: 'hearth.index', arguments: [root ? { root } : {}], workDoneToken: token });
    const o = (r ?? {}) as Record<string, unknown>;
    const facts = ['files', 'chunks', 'changed', 'deleted'].filter((k) => typeof o[k] === 'number').map((k) => `${k} ${String(o[k])}`);
    void vscode.window.showInformationMessage(`Hearth: index done${facts.length ? ` (${facts.join(', ')})` : ''}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Hearth: index failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    progress.dispose();
    status.indexing = undefined;
    updateStatus();
  }
}

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  settings = loadSettings();
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = 'hearth.toggleCompletions';
  statusItem.show();
  chat = new ChatPanel(ask);
  ctx.subscriptions.push(statusItem,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, new InlineProvider()),
    cursorNotifier(100),
    vscode.commands.registerCommand('hearth.ask', async (q?: unknown) => {
      const question = typeof q === 'string' && q.trim() ? q.trim()
        : await vscode.window.showInputBox({ prompt: 'Ask about the codebase', placeHolder: 'Where is the allocator set up?' });
      if (question && question.trim()) ask(question.trim());
      else chat.show();
    }),
    vscode.commands.registerCommand('hearth.index', index),
    vscode.commands.registerCommand('hearth.toggleCompletions', async () => {
      await vscode.workspace.getConfiguration('hearth').update('completions.enabled', !settings.completionsEnabled,
        vscode.ConfigurationTarget.Global);
    }),
    vscode.commands.registerCommand('hearth.restart', async () => {
      await stopClient();
      await startClient(ctx);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('hearth')) return;
      const next = loadSettings();
      const restart = needsRestart(settings, next);
      settings = next;
      updateStatus();
      if (restart) {
        await stopClient();
        await startClient(ctx);
      } else if (client && client.state === State.Running) {
        void client.sendNotification('workspace/didChangeConfiguration', { settings: { hearth: serverOptions(settings) } });
      }
    }),
    { dispose: () => { retrigger.dispose(); void stopClient(); } });
  updateStatus();
  await startClient(ctx);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
