// src/'s layering, as the README's Development map draws it: folders by concern, each
// importing only folders below it (the order below) and, of those, only their faces;
// shared/ a leaf every folder may import; no module importing back up into src/'s top
// (main.ts); no import cycle, type imports included; no module past 250 lines nor
// function past 80. Read with TypeScript's own parser, so a dynamic import() and a
// `typeof import()` count as much as a static one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { root } from '../testbed/paths.ts';

/**
 * The folders, lowest first: a folder may import the ones before it, never one after.
 * Each names its faces, the modules other folders may import (the first is the
 * folder's main module, which opens with what the folder is for); the rest are its
 * insides. '*': every module is a face.
 */
const layers: { folder: string; faces: string[] | '*' }[] = [
  { folder: 'shared', faces: '*' },
  { folder: 'cli', faces: ['cli.ts'] },
  { folder: 'command', faces: ['supervise.ts', 'inspector.ts'] },
  { folder: 'kube', faces: ['client.ts', 'config.ts', 'watch.ts', 'decode.ts', 'recorder.ts', 'rbac.ts', 'unhealthy.ts'] },
  { folder: 'pod', faces: ['plan.ts', 'status.ts', 'restarts.ts', 'verdicts.ts', 'known.ts', 'auto.ts'] },
  { folder: 'report', faces: ['story.ts', 'termination.ts'] },
  { folder: 'probes', faces: ['prober.ts', 'endpoints.ts', 'target.ts', 'exit-signs.ts'] },
  { folder: 'sidecars', faces: ['modes.ts', 'view.ts', 'peers.ts'] },
  { folder: 'shutdown', faces: ['shutdown.ts', 'kill.ts', 'salvage.ts'] },
  { folder: 'check', faces: ['check.ts'] },
];
const top = ['main.ts'];
const maxModuleLines = 250;
const maxFunctionLines = 80;

interface Module {
  /** Relative to src/: `kube/watch.ts`, `main.ts`. */
  path: string;
  imports: string[];
  lines: number;
  /** `name (N lines)` of each function longer than maxFunctionLines. */
  long: string[];
  /** The first line, for the main module's opening comment. */
  first: string;
}

function parse(path: string, text: string): Module {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const imports: string[] = [];
  const long: string[] = [];
  const add = (spec: string): void => {
    if (spec.startsWith('.')) imports.push(join(dirname(path), spec));
  };
  const lineOf = (pos: number): number => file.getLineAndCharacterOfPosition(pos).line;
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) add(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) add(n.arguments[0].text);
    if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) add(n.argument.literal.text);
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const lines = lineOf(n.end) - lineOf(n.getStart(file)) + 1;
      const name = n.name && ts.isIdentifier(n.name) ? n.name.text : n.name && ts.isPrivateIdentifier(n.name) ? n.name.text : 'a function';
      if (lines > maxFunctionLines) long.push(`${name} (${lines} lines)`);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return { path, imports, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), long, first: text.split('\n')[0] ?? '' };
}

function readSrc(): Module[] {
  const src = join(root, 'src');
  return readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => {
      const full = join(e.parentPath, e.name);
      return parse(relative(src, full), readFileSync(full, 'utf8'));
    });
}

const folderOf = (path: string): string | undefined => (path.includes('/') ? path.slice(0, path.indexOf('/')) : undefined);
const nameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Every way `modules` break the layering, one line each; empty when they keep it. */
function violations(modules: Module[]): string[] {
  const out: string[] = [];
  const rank = new Map(layers.map((l, i) => [l.folder, i]));
  const known = new Set(modules.map((m) => m.path));
  for (const m of modules) {
    const from = folderOf(m.path);
    if (from === undefined ? !top.includes(m.path) : !rank.has(from) || m.path.split('/').length > 2) out.push(`${m.path}: not in the layout (a folder of the map, or main.ts)`);
    if (m.lines > maxModuleLines) out.push(`${m.path}: ${m.lines} lines, more than ${maxModuleLines}`);
    for (const f of m.long) out.push(`${m.path}: ${f}, more than ${maxFunctionLines}`);
    for (const target of m.imports) {
      if (!known.has(target)) {
        out.push(`${m.path} imports ${target}, which is not a module of src/`);
        continue;
      }
      const to = folderOf(target);
      if (from === to) continue;
      if (to === undefined) {
        out.push(`${m.path} imports ${target}: back up into src/'s top`);
        continue;
      }
      if (from === undefined) {
        // main.ts: any folder, through its faces.
      } else if (from === 'shared') {
        out.push(`${m.path} imports ${target}: shared/ imports nothing outside it`);
        continue;
      } else if (rank.get(to)! > rank.get(from)!) {
        out.push(`${m.path} imports ${target}: ${from}/ sits below ${to}/`);
        continue;
      }
      const faces = layers.find((l) => l.folder === to)?.faces;
      if (faces !== '*' && !faces?.includes(nameOf(target))) out.push(`${m.path} imports ${target}: one of ${to}/'s insides (its faces: ${faces?.join(', ')})`);
    }
  }
  for (const l of layers) {
    const main = l.faces === '*' ? undefined : `${l.folder}/${l.faces[0]}`;
    const found = main && modules.find((m) => m.path === main);
    if (main && !found) out.push(`${main}: the main module of ${l.folder}/ is missing`);
    else if (found && !found.first.startsWith('// ')) out.push(`${main}: opens without a line on what ${l.folder}/ is for`);
  }
  out.push(...cycles(modules));
  return out;
}

/** Each import cycle, once, by a depth-first search over every import. */
function cycles(modules: Module[]): string[] {
  const graph = new Map(modules.map((m) => [m.path, m.imports]));
  const state = new Map<string, 'open' | 'done'>();
  const found: string[] = [];
  const stack: string[] = [];
  const walk = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const next of graph.get(m) ?? []) {
      if (state.get(next) === 'open') found.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(' -> ')}`);
      else if (!state.has(next) && graph.has(next)) walk(next);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of graph.keys()) if (!state.has(m)) walk(m);
  return found;
}

test("src/ keeps its layering: folders below import no folder above, only other folders' faces, no cycle, no long module or function", () => {
  const modules = readSrc();
  assert.ok(modules.length > 40, `read ${modules.length} modules`);
  assert.deepEqual(violations(modules), []);
});

test('the layering check names each kind of break', () => {
  const at = (path: string, imports: string[] = [], more: Partial<Module> = {}): Module =>
    ({ path, imports, lines: 10, long: [], first: '// what it is for', ...more });
  const fine = [at('main.ts', ['sidecars/modes.ts']), at('shared/log.ts'), at('sidecars/modes.ts', ['sidecars/view.ts', 'kube/watch.ts', 'shared/log.ts']),
    at('sidecars/view.ts'), at('kube/watch.ts', ['kube/lines.ts']), at('kube/lines.ts'), at('kube/client.ts'), at('cli/cli.ts'), at('command/supervise.ts'),
    at('pod/plan.ts'), at('report/story.ts'), at('probes/prober.ts'), at('shutdown/shutdown.ts'), at('check/check.ts')];
  assert.deepEqual(violations(fine), []);
  const broken = (change: Module[]): string[] => violations([...fine.filter((m) => !change.some((c) => c.path === m.path)), ...change]);
  assert.match(broken([at('kube/watch.ts', ['sidecars/view.ts'])]).join('\n'), /kube\/ sits below sidecars\//);
  assert.match(broken([at('sidecars/modes.ts', ['kube/lines.ts'])]).join('\n'), /one of kube\/'s insides/);
  assert.match(broken([at('kube/lines.ts', ['main.ts'])]).join('\n'), /back up into src\/'s top/);
  assert.match(broken([at('shared/log.ts', ['cli/cli.ts'])]).join('\n'), /shared\/ imports nothing outside it/);
  assert.match(broken([at('kube/lines.ts', ['kube/watch.ts'])]).join('\n'), /import cycle: kube\/watch.ts -> kube\/lines.ts -> kube\/watch.ts/);
  assert.match(broken([at('kube/lines.ts', [], { lines: 251 })]).join('\n'), /251 lines/);
  assert.match(broken([at('kube/lines.ts', [], { long: ['split (81 lines)'] })]).join('\n'), /split \(81 lines\), more than 80/);
  assert.match(broken([at('cli/cli.ts', [], { first: 'import x' })]).join('\n'), /opens without a line on what cli\/ is for/);
  assert.match(broken([at('lines.ts')]).join('\n'), /lines.ts: not in the layout/);
  assert.match(broken([at('kube/deep/lines.ts')]).join('\n'), /not in the layout/);
});

test("the README's Development map names every module of src/, and only those", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const map = readme.slice(readme.indexOf('## Development'));
  const named = new Set([...map.matchAll(/^src\/(\S+\.ts)\s/gm)].map((m) => m[1]!));
  const actual = readSrc().map((m) => m.path).sort();
  assert.deepEqual([...named].sort(), actual);
});
