/**
 * The real HTTP clients of the interop suite — Debian's curl and Debian's Python with python3-requests — found at
 * their Debian paths and run as child processes with a time bound.
 *
 * Debian's paths are used on purpose: a `python3` earlier on PATH (pyenv, a virtualenv) may carry another requests,
 * and the suite is about the clients a Debian user has. A missing client throws an error that names the package
 * and how to install it: the test fails, it never skips.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const CURL = '/usr/bin/curl';
export const PYTHON = '/usr/bin/python3';

function installHint(pkg: string): string {
  return (
    `install the Debian package "${pkg}": run \`npm test\` as root (scripts/ensure-system-packages.sh test installs it), ` +
    `or \`apt-get update && apt-get install -y --no-install-recommends ${pkg}\``
  );
}

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`), without a shell: arguments reach it byte for byte. */
export function runProcess(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 20_000,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

export function requireCurl(): void {
  if (!existsSync(CURL)) throw new Error(`curl is not installed (${CURL} is missing): ${installHint('curl')}`);
}

/** Checks that Debian's python3 exists and imports requests; throws the install hint otherwise. */
export async function requirePythonRequests(): Promise<void> {
  if (!existsSync(PYTHON)) throw new Error(`python3 is not installed (${PYTHON} is missing): ${installHint('python3-requests')}`);
  const probe = await runProcess(PYTHON, ['-c', 'import requests']);
  if (probe.code !== 0) {
    throw new Error(`${PYTHON} cannot import requests (${probe.stderr.trim().split('\n').pop() ?? ''}): ${installHint('python3-requests')}`);
  }
}

export interface CurlResponseHead {
  readonly status: number;
  /** Header lines in order, names lower-cased; repeated headers stay separate entries. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export interface CurlResult {
  readonly exitCode: number | null;
  readonly stderr: string;
  /** Every response curl received, in order (an auth exchange has several); the last one is the answer. */
  readonly responses: readonly CurlResponseHead[];
  readonly final: CurlResponseHead;
  /** Body of the final response, decoded as UTF-8. */
  readonly body: string;
}

/** Header values of `name` in a response head. */
export function headerValues(head: CurlResponseHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.headers.filter(([n]) => n === lower).map(([, v]) => v);
}

/** Splits curl's `-D` dump (every response head, one after the other) into heads. */
export function parseHeaderDump(dump: string): CurlResponseHead[] {
  const heads: CurlResponseHead[] = [];
  for (const block of dump.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((l) => l !== '');
    const statusLine = lines.shift();
    if (!statusLine) continue;
    const m = /^HTTP\/[\d.]+ (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`unexpected line in curl's header dump: ${JSON.stringify(statusLine)}`);
    const headers = lines.map((l): readonly [string, string] => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()];
    });
    heads.push({ status: Number(m[1]), headers });
  }
  return heads;
}

/**
 * Runs curl on one URL with the given options (`-u`, `--basic`, …). Heads go to stdout (`-D -`) and the body to a
 * file, so the two never mix however many responses the exchange has.
 */
export async function curl(url: string, options: readonly string[]): Promise<CurlResult> {
  requireCurl();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-curl-'));
  try {
    const bodyFile = path.join(dir, 'body');
    const r = await runProcess(CURL, ['--silent', '--show-error', '--max-time', '15', '-D', '-', '-o', bodyFile, ...options, url]);
    const responses = parseHeaderDump(r.stdout.toString('latin1'));
    const final = responses.at(-1);
    if (r.code !== 0 || !final) throw new Error(`curl ${options.join(' ')} ${url} failed (exit ${r.code}): ${r.stderr}`);
    const body = existsSync(bodyFile) ? await readFile(bodyFile, 'utf8') : '';
    return { exitCode: r.code, stderr: r.stderr, responses, final, body };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
