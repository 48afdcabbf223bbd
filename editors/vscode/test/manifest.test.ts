// package.json's contributions agree with the code: every contributed command is registered, every
// setting is described and read by settings.ts with the same default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, readSettings } from '../src/settings';

// Compiled to OUT/test/, run from anywhere: find the sources through HEARTH_VSCODE_DIR or cwd.
const root = process.env.HEARTH_VSCODE_DIR || process.cwd();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const ext = readFileSync(join(root, 'src', 'extension.ts'), 'utf8');

test('every contributed command is registered, with the titles the issue names', () => {
  const cmds: { command: string; title: string; category: string }[] = pkg.contributes.commands;
  for (const c of cmds) assert.ok(ext.includes(`registerCommand('${c.command}'`), `${c.command} is registered`);
  const titles = cmds.map((c) => `${c.category}: ${c.title}`);
  for (const t of ['Hearth: Ask About Codebase', 'Hearth: Index Workspace', 'Hearth: Toggle Completions'])
    assert.ok(titles.includes(t), t);
});

test('every setting has a description and the default settings.ts uses', () => {
  const props: Record<string, { default: unknown; description?: string; markdownDescription?: string }> =
    pkg.contributes.configuration.properties;
  const defaults: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(props)) {
    assert.ok((p.description || p.markdownDescription || '').length > 20, `${key} is described`);
    defaults[key.replace(/^hearth\./, '')] = p.default;
  }
  assert.deepEqual(readSettings((k) => defaults[k]), DEFAULTS);
  assert.equal(Object.keys(props).length, Object.keys(DEFAULTS).length, 'one setting per field');
});

test('the manifest is packageable: entry point, engine, activation', () => {
  assert.equal(pkg.main, './dist/extension.js');
  assert.match(pkg.engines.vscode, /^\^1\.\d+\.0$/);
  assert.equal(pkg.devDependencies['@types/vscode'], pkg.engines.vscode.slice(1), '@types/vscode matches the engine');
  for (const [name, v] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }))
    assert.match(String(v), /^\d+\.\d+\.\d+$/, `${name} is pinned`);
});
