/**
 * Starts the real `persona serve` (the compiled CLI) in a child process with its own state folder, for
 * integration tests. Everything listens on loopback; every process is stopped by `stop()` (tests call it in `after`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO, 'dist/src/cli/main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A fresh folder under the system's temporary folder, open to other accounts (0755): as root, `persona serve` is a
 * launcher whose worker runs as the pool's account (www-data), which must reach web roots and the state folder
 * placed here, as it must on a real server.
 */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `persona-${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a persona CLI command to completion. */
export function persona(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export class RunningPersona {
  output = '';
  private exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly home: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get exitCode(): Promise<number | null> {
    return this.exited;
  }

  /** Bounded; generous because a start is launcher + worker + forker, and CI machines are shared (a loaded clean-clone run took over 15 s for one). */
  async waitForOutput(pattern: RegExp, timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${this.output}`);
      if (this.child.exitCode !== null) throw new Error(`persona exited (${this.child.exitCode}) before ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      const code = await this.exited;
      clearTimeout(timer);
      return code;
    }
    return this.child.exitCode;
  }

  async w3cLog(siteId = 1): Promise<string> {
    const dir = path.join(this.home, 'logs', `W3SVC${siteId}`);
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(dir)).sort();
    return (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')))).join('');
  }
}

/**
 * Starts persona with `config` (YAML text) written to <home>/persona.yaml, and waits until it prints "started".
 * `publicRoots`: folders anonymous requests (IUSR) may read, granted with the real `persona acl grant` first — a new
 * installation's root ACL lets only Users read, as a new folder on Windows does not let IUSR in.
 */
export async function startPersona(
  config: string | undefined,
  opts: { home?: string; env?: NodeJS.ProcessEnv; args?: string[]; publicRoots?: readonly string[] } = {},
): Promise<RunningPersona> {
  const home = opts.home ?? (await tempDir('home'));
  await mkdir(home, { recursive: true });
  if (config !== undefined) await writeFile(path.join(home, 'persona.yaml'), config);
  for (const root of opts.publicRoots ?? []) {
    const r = persona(['--home', home, 'acl', 'grant', root, 'IUSR:(OI)(CI)RX'], opts.env);
    if (r.status !== 0) throw new Error(`persona acl grant ${root} failed (${r.status}): ${r.stderr}`);
  }
  const child = spawn(process.execPath, [CLI, '--home', home, ...(opts.args ?? []), 'serve'], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const running = new RunningPersona(child, home);
  try {
    await running.waitForOutput(/started \(pid/);
  } catch (error) {
    // A server that did not say "started" in time (a loaded machine) is stopped here: nobody else holds it.
    await running.stop();
    throw error;
  }
  return running;
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** One HTTP request with node:http (an agent may be passed to keep the connection). */
export function get(url: string, options: http.RequestOptions & { body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends raw bytes on a new connection and returns everything the server sent until it closed or went quiet. */
export function rawRequest(port: number, bytes: Buffer | string, quietMs = 1500, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = netConnect({ port, host });
    let timer = setTimeout(() => socket.destroy(), quietMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), 300);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(bytes);
  });
}

/** A site config around one web root; extra YAML is appended to the site entry (indented 4 spaces). */
export function siteConfig(port: number, root: string, siteExtra = '', top = ''): string {
  return `${top}
sites:
  - name: Test
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${port} }
    physicalPath: ${JSON.stringify(root)}
${siteExtra}`;
}

/** Runs a `persona` admin command (e.g. `user add bob`) with `input` on stdin, and fails the test if it fails. */
export function personaCli(home: string, args: readonly string[], input = ''): void {
  const r = spawnSync(process.execPath, [CLI, '--home', home, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`persona ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

/** Request options carrying Basic credentials. */
export function basicAuth(user: string, password: string): { headers: { authorization: string } } {
  return { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } };
}

/** `key=value` lines of a reply (what the identity-printing scripts of the tests answer). */
export function replyFields(reply: Reply): Record<string, string> {
  return Object.fromEntries(reply.text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
