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

const ENGINE = ['src/graph', 'src/train', 'src/models', 'src/diffusion', 'src/images', 'src/pair'];

/** Leaf layers every layer but src/graph may import: the error vocabulary (src/errors/user-error.ts). */
const LEAVES = ['src/errors'];

/** Which other layers each layer may import (its own always). A layer not listed here may import anything. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'src/graph': [],
  'src/errors': [],
  'src/train': ['src/graph', ...LEAVES],
  'src/models': ['src/graph', ...LEAVES],
  'src/diffusion': ['src/graph', ...LEAVES],
  'src/images': [...LEAVES],
  'src/data': [...LEAVES],
  'src/queue': [...LEAVES],
  'src/store': ['src/pair', 'src/train', ...LEAVES],
  'src/pair': ['src/graph', 'src/train', 'src/models', 'src/diffusion', 'src/images', ...LEAVES],
  'src/eval': [...ENGINE, 'src/data', ...LEAVES],
  config: [...LEAVES],
  commands: ['src/queue', 'src/store', 'src/images', ...LEAVES],
  workers: [...ENGINE, 'src/queue', 'config', ...LEAVES],
  'src/bot': [...ENGINE, 'src/queue', 'src/store', 'commands', 'workers', 'config', ...LEAVES],
  bin: ['src/bot'],
  scripts: [...ENGINE, 'src/data', 'src/eval', 'src/queue', 'src/store', 'src/bot', 'commands', 'workers', 'config', ...LEAVES],
};

/** Imports that break MAY_IMPORT today: importing file -> imported layer (docs/architecture.md, "Where the code does not follow them yet"). */
const KNOWN_VIOLATIONS: Record<string, string> = {
  'src/models/init.ts -> src/diffusion': 'the seeded Rng lives in src/diffusion/rng.ts',
  'src/models/vae.ts -> src/diffusion': 'the seeded Rng lives in src/diffusion/rng.ts',
  'src/models/checkpoint-layout.ts -> src/diffusion': 'parses the scheduler config (schedule.ts, scheduler-config.ts)',
  'src/models/model-folder.ts -> src/diffusion': 'reads and writes the scheduler config',
  'src/models/text-to-image.ts -> src/diffusion': 'the model type holds its NoiseSchedule (type-only)',
  'src/models/emoji-mini.ts -> src/diffusion': 'draws sample grids with the pipeline and guidance',
  'src/models/emoji-mini.ts -> src/images': 'writes sample grids with sharp',
  'src/models/checkpoint-layout.ts -> src/train': 'safetensors reading and writing lives in src/train',
  'src/models/model-folder.ts -> src/train': 'safetensors reading and writing lives in src/train',
  'src/diffusion/pipeline.ts -> src/models': 'the pipeline (loading, conditioning, text-to-image) still lives in src/diffusion',
  'src/images/io.ts -> src/models': 'the pixel conversions (rgbToUnit, unitToRgb) live in models/pixel-codec.ts',
  'config/model.ts -> src/graph': 'the device list (DEVICES) lives in src/graph/providers.ts',
  'config/model.ts -> src/models': 'names the embedded model folder, and loads models (loadModelOf, a dynamic import)',
  'scripts/bench-bot.ts -> test': 'uses the test helpers (loopback fakes of Discord and Slack)',
  'scripts/bench-scale.ts -> test': 'uses the test helpers (redis-server, worker processes)',
  'scripts/gpu-check.ts -> test': 'uses the test helpers (the tiny model)',
};

const crossings = (): Import[] => [...graph.values()].flat().filter((i) => i.internal && layerOf(i.to) !== layerOf(i.from));
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
    const broken = crossings().filter((i) => MAY_IMPORT[layerOf(i.from)] && !MAY_IMPORT[layerOf(i.from)]!.includes(layerOf(i.to)));
    const unknown = [...new Set(broken.map(key))].filter((k) => !(k in KNOWN_VIOLATIONS));
    expect(unknown, 'imports across a forbidden line (see docs/architecture.md)').toEqual([]);
    const gone = Object.keys(KNOWN_VIOLATIONS).filter((k) => !broken.some((i) => key(i) === k));
    expect(gone, 'fixed: remove these from KNOWN_VIOLATIONS and from docs/architecture.md').toEqual([]);
  });

  it('src/graph imports nothing of the rest of the repository', () => {
    const out = crossings().filter((i) => layerOf(i.from) === 'src/graph');
    expect(out.map(key)).toEqual([]);
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

  it("importing the bot's or the worker's config loads no native addon (onnxruntime-node, sharp)", () => {
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
    const modules = ['config/bot.ts', 'config/worker.ts', 'src/graph/session.ts'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', probe, ...modules.map((m) => join(ROOT, m))], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const byModule = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string[]>;
    const loads = (m: string) => byModule[join(ROOT, m)]!;
    expect(loads('config/bot.ts')).toEqual([]);
    expect(loads('config/worker.ts')).toEqual([]);
    // The probe does see native addons: the engine's session module loads onnxruntime-node's binding.
    expect(loads('src/graph/session.ts').some((f) => f.includes('onnxruntime'))).toBe(true);
  });
});
