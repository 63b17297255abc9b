/**
 * A throwaway redis-server for tests: 127.0.0.1 only, a free random port, no persistence, its own
 * temporary folder; start() waits (bounded) until it answers PING, stop() ends it and waits for the
 * exit. `pause()` / `resume()` (SIGSTOP / SIGCONT) make it hang without losing data; stop() + start()
 * on the same port is a real outage (the data is gone: there is no persistence).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    const done = (ok: boolean) => (sock.destroy(), resolve(ok));
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export class RedisServer {
  port = 0;
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'pairstyle-redis-'));

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 15_000): Promise<this> {
    if (!this.port) this.port = await freePort();
    let err = '';
    const p = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--protected-mode', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.stdout!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    this.proc = p;
    const exited = new Promise<never>((_, reject) => {
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${err}`)));
      p.once('error', (e) =>
        reject(
          new Error(
            `could not start redis-server (${e.message}): install it with 'apt-get install redis-server' (npm test does when it can: test/install-prerequisites.ts)`,
          ),
        ),
      );
    });
    exited.catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await Promise.race([ping(this.port), exited])) return this;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`redis-server did not answer on port ${this.port} within ${timeoutMs} ms: ${err}`);
  }

  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Ends the server (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}
