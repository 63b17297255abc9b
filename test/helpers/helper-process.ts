/**
 * A process the tests start and kill (test/helpers/bot-process.ts, testing/worker-process.ts): `node
 * --import tsx <script> '<json>'`. Its READY line is awaited (bounded), every stdout line is handed to
 * whoever listens on `lines` (EVENT, CRASHPOINT …), and the end of its stderr goes into the errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

export interface HelperProcess {
  p: ChildProcess;
  /** The READY line's JSON; rejects when the process exits first or is not ready in time. */
  ready: Promise<Record<string, unknown>>;
  /** The process's stdout, by line. */
  lines: Interface;
  /** The last 4,000 characters of its stderr. */
  stderr(): string;
}

export function spawnHelperProcess(script: string, arg: unknown, readyTimeoutMs = 120_000): HelperProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  p.stderr!.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-4000)));
  const lines = createInterface({ input: p.stdout! });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${script} not ready in ${readyTimeoutMs / 1000} s: ${errText}`)), readyTimeoutMs);
    p.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${script} exited (${code}): ${errText}`));
    });
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(t);
      resolve(JSON.parse(line.slice(6)) as Record<string, unknown>);
    });
  });
  ready.catch(() => undefined); // a caller that never awaits it is told nothing
  return { p, ready, lines, stderr: () => errText };
}

/** kill -9, resolved once the process has exited. */
export async function kill9(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}
