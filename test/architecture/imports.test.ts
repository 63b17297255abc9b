/**
 * The import rules of docs/architecture.md, checked on the source as it is. Each layer (a top folder, or
 * a folder of src/) may import only the layers listed for it; the imports that break a rule today are
 * listed by file in KNOWN_VIOLATIONS, each with the reason, and docs/architecture.md lists the same.
 * A new import across a forbidden line fails, and so does an entry here that no longer occurs (so the
 * list only shrinks). Beside the layers: what the commands and the worker reach (never a chat SDK),
 * and that importing the bot's or the worker's config loads no native addon.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph, layerOf, reachable, type Import } from './import-graph.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const graph = importGraph(ROOT);

const ENGINE = ['src/formats', 'src/graph', 'src/train', 'src/models', 'src/diffusion', 'src/pipeline', 'src/images', 'src/pair'];

/** Leaf layers every layer but src/formats and src/graph may import: the error vocabulary (src/errors/user-error.ts) and the catalogue of texts (src/i18n). */
const LEAVES = ['src/errors', 'src/i18n'];

/**
 * Which other layers each layer may import (its own always). A layer not listed here may import anything.
 * An entry that names a file (…/x.ts) allows that one module, which must be a leaf: it imports nothing of
 * the repository and no package but Node's built-ins.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'src/formats': [],
  'src/i18n': [],
  'src/errors': ['src/i18n'],
  'src/graph': ['src/formats'],
  'src/train': ['src/graph', 'src/formats', ...LEAVES],
  'src/models': ['src/graph', 'src/formats', ...LEAVES],
  'src/diffusion': ['src/graph', 'src/formats', ...LEAVES],
  'src/pipeline': ['src/graph', 'src/formats', 'src/models', 'src/diffusion', ...LEAVES],
  'src/images': ['src/formats', ...LEAVES],
  'src/data': [...LEAVES],
  'src/queue': [...LEAVES],
  'src/store': ['src/pair', 'src/train', 'src/formats', ...LEAVES],
  'src/pair': ['src/formats', 'src/graph', 'src/train', 'src/models', 'src/diffusion', 'src/pipeline', 'src/images', ...LEAVES],
  'src/eval': [...ENGINE, 'src/data', ...LEAVES],
  config: ['src/formats/pytorch-sniff.ts', 'src/graph/device.ts', ...LEAVES],
  commands: ['src/queue', 'src/store', 'src/images', 'src/pair/stylize-defaults.ts', ...LEAVES],
  workers: [...ENGINE, 'src/queue', 'config', ...LEAVES],
  'src/bot': [...ENGINE, 'src/queue', 'src/store', 'commands', 'workers', 'config', ...LEAVES],
  bin: ['src/bot'],
  testing: [...ENGINE, 'src/data', 'src/queue', 'src/store', 'src/bot', 'commands', 'workers', 'config', ...LEAVES],
  scripts: [...ENGINE, 'src/data', 'src/eval', 'src/queue', 'src/store', 'src/bot', 'commands', 'workers', 'config', 'testing', ...LEAVES],
};

/** Imports that break MAY_IMPORT today: importing file -> imported layer (docs/architecture.md, "Where the code does not follow the rules yet"). */
const KNOWN_VIOLATIONS: Record<string, string> = {};

const crossings = (): Import[] => [...graph.values()].flat().filter((i) => i.internal && layerOf(i.to) !== layerOf(i.from));
const allowed = (i: Import) => MAY_IMPORT[layerOf(i.from)]!.some((entry) => (entry.endsWith('.ts') ? i.to === entry : layerOf(i.to) === entry));
const key = (i: Import) => `${i.from} -> ${layerOf(i.to)}`;

/** Chat platform SDKs: what only the adapters (src/bot) may reach. */
const CHAT_SDKS = /^(discord\.js|@discordjs\/|discord-api-types|@slack\/)/;

describe('import rules (docs/architecture.md)', () => {
  it('reads a plausible graph: every layer of the rules has files, and a known import is found', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    for (const layer of Object.keys(MAY_IMPORT)) expect(layers, layer).toContain(layer);
    expect(graph.get('src/bot/main.ts')!.map((i) => i.to)).toContain('commands/types.ts');
  });

  it('each layer imports only the layers below it, apart from the known violations', () => {
    const broken = crossings().filter((i) => MAY_IMPORT[layerOf(i.from)] && !allowed(i));
    const unknown = [...new Set(broken.map(key))].filter((k) => !(k in KNOWN_VIOLATIONS));
    expect(unknown, 'imports across a forbidden line (see docs/architecture.md)').toEqual([]);
    const gone = Object.keys(KNOWN_VIOLATIONS).filter((k) => !broken.some((i) => key(i) === k));
    expect(gone, 'fixed: remove these from KNOWN_VIOLATIONS and from docs/architecture.md').toEqual([]);
  });

  it('src/formats imports nothing of the rest of the repository, and src/graph only src/formats', () => {
    const out = crossings().filter((i) => (layerOf(i.from) === 'src/formats' || layerOf(i.from) === 'src/graph') && layerOf(i.to) !== 'src/formats');
    expect(out.map(key)).toEqual([]);
  });

  it('the single modules a layer may import are leaves: no import of the repository, only Node built-ins', () => {
    const files = [
      ...new Set(
        Object.values(MAY_IMPORT)
          .flat()
          .filter((e) => e.endsWith('.ts')),
      ),
    ];
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const imports = graph.get(f);
      expect(imports, `${f} exists`).toBeDefined();
      expect(
        imports!.filter((i) => i.internal || !i.to.startsWith('node:')).map((i) => i.to),
        f,
      ).toEqual([]);
    }
  });

  it('the commands never reach a chat SDK, nor the worker process', () => {
    const commands = [...graph.keys()].filter((f) => layerOf(f) === 'commands');
    const worker = [...graph.keys()].filter((f) => layerOf(f) === 'workers');
    for (const start of [commands, worker]) {
      const { packages } = reachable(graph, start);
      const sdks = [...packages].filter(([p]) => CHAT_SDKS.test(p)).map(([p, by]) => `${p} (imported by ${by})`);
      expect(sdks, `reached from ${start[0]}…`).toEqual([]);
    }
    // The adapters do reach them, so the check above looks at the right names.
    expect([...reachable(graph, ['src/bot/main.ts']).packages.keys()].filter((p) => CHAT_SDKS.test(p)).length).toBeGreaterThan(0);
  });

  it("importing the bot's or the worker's config loads no native addon (onnxruntime-node, sharp), nor the commands onnxruntime-node", () => {
    // One child process imports the modules in turn and records the native addons Node loads (process.dlopen) for each.
    const dir = mkdtempSync(join(tmpdir(), 'pairstyle-dlopen-'));
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `const loaded = []; const dlopen = process.dlopen;
process.dlopen = function (m, file, ...rest) { loaded.push(file); return dlopen.call(process, m, file, ...rest); };
const byModule = {};
for (const m of process.argv.slice(2)) { const before = loaded.length; await import(m); byModule[m] = loaded.slice(before); }
console.log(JSON.stringify(byModule));`,
    );
    const modules = ['config/bot.ts', 'config/worker.ts', 'commands/index.ts', 'src/graph/session.ts'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', probe, ...modules.map((m) => join(ROOT, m))], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const byModule = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string[]>;
    const loads = (m: string) => byModule[join(ROOT, m)]!;
    expect(loads('config/bot.ts')).toEqual([]);
    expect(loads('config/worker.ts')).toEqual([]);
    // The commands decode uploads with sharp, and never load the engine's onnxruntime-node.
    expect(loads('commands/index.ts').filter((f) => f.includes('onnxruntime'))).toEqual([]);
    // The probe does see native addons: the engine's session module loads onnxruntime-node's binding.
    expect(loads('src/graph/session.ts').some((f) => f.includes('onnxruntime'))).toBe(true);
  });
});
