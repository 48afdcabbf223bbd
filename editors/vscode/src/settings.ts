// The extension's settings as plain data: read through a getter (vscode's WorkspaceConfiguration
// in the extension, a plain object in tests), every value checked, bad values replaced by defaults.
// No `vscode` import, so Node's test runner can load it.

export interface HearthSettings {
  serverPath: string;
  serverArgs: string[];
  completionModel: string;
  chatModel: string;
  embeddingModel: string;
  threads: number;
  contextSize: number;
  completionsEnabled: boolean;
  prefillAhead: boolean;
  debounceMs: number;
  languages: string[];
}

export const DEFAULTS: HearthSettings = {
  serverPath: 'hearth',
  serverArgs: [],
  completionModel: '',
  chatModel: '',
  embeddingModel: '',
  threads: 0,
  contextSize: 0,
  completionsEnabled: true,
  prefillAhead: true,
  debounceMs: 25,
  languages: ['c', 'cpp', 'python', 'javascript', 'typescript', 'typescriptreact', 'javascriptreact',
    'go', 'rust', 'java', 'lua', 'shellscript', 'json', 'markdown'],
};

/** Reads `hearth.<key>` values; `get` returns undefined for unset keys. */
export type SettingGetter = (key: string) => unknown;

function str(v: unknown, d: string): string {
  return typeof v === 'string' ? v.trim() : d;
}

function int(v: unknown, d: number, min: number, max: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : d;
}

function strings(v: unknown, d: string[]): string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...v] : [...d];
}

export function readSettings(get: SettingGetter): HearthSettings {
  return {
    serverPath: str(get('serverPath'), DEFAULTS.serverPath) || DEFAULTS.serverPath,
    serverArgs: strings(get('serverArgs'), DEFAULTS.serverArgs),
    completionModel: str(get('completionModel'), DEFAULTS.completionModel),
    chatModel: str(get('chatModel'), DEFAULTS.chatModel),
    embeddingModel: str(get('embeddingModel'), DEFAULTS.embeddingModel),
    threads: int(get('threads'), DEFAULTS.threads, 0, 1024),
    contextSize: int(get('contextSize'), DEFAULTS.contextSize, 0, 1 << 20),
    completionsEnabled: typeof get('completions.enabled') === 'boolean'
      ? (get('completions.enabled') as boolean) : DEFAULTS.completionsEnabled,
    prefillAhead: typeof get('completions.prefillAhead') === 'boolean'
      ? (get('completions.prefillAhead') as boolean) : DEFAULTS.prefillAhead,
    debounceMs: int(get('completions.debounceMs'), DEFAULTS.debounceMs, 0, 5000),
    languages: strings(get('languages'), DEFAULTS.languages),
  };
}

/** The command line that starts the server: `<serverPath> lsp <serverArgs...>`. */
export function serverCommand(s: HearthSettings): { command: string; args: string[] } {
  return { command: s.serverPath, args: ['lsp', ...s.serverArgs] };
}

/** initializationOptions / settings.hearth for the server (only what the user set, and prefillAhead). */
export function serverOptions(s: HearthSettings): Record<string, string | number | boolean> {
  const o: Record<string, string | number | boolean> = {};
  if (s.completionModel) o.completionModel = s.completionModel;
  if (s.chatModel) o.chatModel = s.chatModel;
  if (s.embeddingModel) o.embeddingModel = s.embeddingModel;
  if (s.threads > 0) o.threads = s.threads;
  if (s.contextSize >= 64) o.contextSize = s.contextSize;
  o.prefillAhead = s.prefillAhead; // always: turning it back on must reach a running server
  return o;
}

/**
 * Settings whose change needs a server restart: the command line, the languages, and the chat and
 * embedding models (read only from initializationOptions); the rest go through
 * workspace/didChangeConfiguration.
 */
export function needsRestart(a: HearthSettings, b: HearthSettings): boolean {
  return a.serverPath !== b.serverPath || a.chatModel !== b.chatModel || a.embeddingModel !== b.embeddingModel || a.serverArgs.join('\0') !== b.serverArgs.join('\0') ||
    a.languages.join('\0') !== b.languages.join('\0');
}

/** A short model name for the status bar: the file name without `.gguf`. */
export function modelLabel(path: string): string {
  if (!path) return 'no model';
  const base = path.split(/[\\/]/).pop() || path;
  return base.replace(/\.gguf$/i, '');
}
