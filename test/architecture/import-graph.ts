/**
 * The repository's import graph, read from the source of every tracked .ts / .mjs file: static imports
 * and re-exports (`import type` included, marked), and dynamic `import('…')` with a literal specifier.
 * Comments are dropped first, so that a path named in a comment is no import. Relative specifiers are
 * resolved to repository paths; anything else is a package, named by its package name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';

export interface Import {
  /** The importing file, relative to the repository root. */
  from: string;
  /** A repository path for a relative specifier (resolved), else the package name ('node:…' for built-ins). */
  to: string;
  internal: boolean;
  typeOnly: boolean;
  dynamic: boolean;
}

/** A layer: the first folder, or the first two under src/ (src/graph, src/models, …). */
export function layerOf(path: string): string {
  const parts = path.split('/');
  return parts[0] === 'src' ? parts.slice(0, 2).join('/') : parts[0]!;
}

function withoutComments(source: string): string {
  return source
    .replace(/^[ \t]*\/\*[\s\S]*?\*\//gm, '') // block comments that open a line (JSDoc and the like)
    .replace(/^[ \t]*\/\/.*$/gm, '') // whole-line comments
    .replace(/([;{}),])[ \t]+\/\/.*$/gm, '$1'); // comments after code
}

const STATIC = /^[ \t]*(import|export)\b(\s+type\b)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^[ \t]*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function packageName(specifier: string): string {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return specifier.startsWith('node:') ? specifier : `node:${specifier}`;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function importsOf(file: string, root: string): Import[] {
  const source = withoutComments(readFileSync(join(root, file), 'utf8'));
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean, dynamic: boolean) => {
    if (!specifier.startsWith('.')) {
      found.push({ from: file, to: packageName(specifier), internal: false, typeOnly, dynamic });
      return;
    }
    const to = normalize(join(dirname(file), specifier));
    if (!existsSync(join(root, to))) throw new Error(`${file}: import '${specifier}' does not resolve to a file (${to})`);
    found.push({ from: file, to, internal: true, typeOnly, dynamic });
  };
  for (const m of source.matchAll(STATIC)) add((m[3] ?? m[4])!, Boolean(m[2]), false);
  for (const m of source.matchAll(DYNAMIC)) add(m[1]!, false, true);
  return found;
}

/** Every source file git knows of or would add (tracked, or untracked and not ignored) and its imports. */
export function importGraph(root: string): Map<string, Import[]> {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.mjs'], { cwd: root, encoding: 'utf8' });
  const files = [...new Set(listed.trim().split('\n'))].filter((f) => existsSync(join(root, f)));
  return new Map(files.map((f) => [f, importsOf(f, root)]));
}

/** The files reachable from `start` through imports (type-only and dynamic ones included), and the packages they import. */
export function reachable(graph: Map<string, Import[]>, start: string[]): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // package -> the first file seen importing it
  const todo = [...start];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const i of graph.get(f) ?? []) {
      if (i.internal) todo.push(i.to);
      else if (!packages.has(i.to)) packages.set(i.to, f);
    }
  }
  return { files, packages };
}
