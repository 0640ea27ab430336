/**
 * Runs the compiled `persona` CLI that sits next to these compiled tests (dist/src/cli/main.js in the normal build,
 * or a private build's copy), on a temporary home. Every run's output is kept, so a test file can check at its end
 * that no password or verifier ever reached stdout or stderr.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { openAccountStore } from '../../src/accounts/store.js';
import type { AccountStore } from '../../src/accounts/types.js';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything every run printed, in order. */
export const transcript: string[] = [];

/** `input` is written to stdin and stdin is closed (no input: an immediately closed stdin). */
export function cli(home: string, args: readonly string[], input: string | Buffer = ''): Run {
  const env = { ...process.env };
  delete env.PERSONA_HOME;
  const r = spawnSync(process.execPath, [CLI, '--home', home, ...args], { input, encoding: 'utf8', env, timeout: 60_000 });
  if (r.error) throw r.error;
  transcript.push(r.stdout, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts exit status, showing the output when it differs. */
export function expectStatus(r: Run, status: number): Run {
  assert.equal(r.status, status, `exit ${r.status}, expected ${status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function json<T>(r: Run): T {
  expectStatus(r, 0);
  return JSON.parse(r.stdout) as T;
}

export async function tempHome(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `persona-cli-${prefix}-`));
}

/** The same store the CLI wrote (machine.json + <home>/accounts.db), opened in the test process to check results. */
export function openHomeStore(home: string): AccountStore {
  const machine = JSON.parse(readFileSync(path.join(home, 'machine.json'), 'utf8')) as { machineName: string; machineSid: string };
  return openAccountStore(path.join(home, 'accounts.db'), { machineName: machine.machineName, machineSid: machine.machineSid });
}

export async function verify(home: string, name: string, password: string): Promise<boolean> {
  const store = openHomeStore(home);
  try {
    const user = store.findUser(name);
    assert.ok(user, `no user ${name}`);
    return await store.verifyPassword(user, password);
  } finally {
    store.close();
  }
}

/** Fails if any output so far contains a secret or anything shaped like a stored verifier. */
export function assertNothingSecretPrinted(secrets: readonly string[]): void {
  const all = transcript.join('\n');
  for (const s of secrets) assert.ok(!all.includes(s), `a password was printed: ${JSON.stringify(s)}`);
  assert.doesNotMatch(all, /\$scrypt\$|\$argon2/i, 'a password verifier was printed');
}

/**
 * Runs the CLI on a real pseudo-terminal (python3's pty module: the CLI sees a TTY on stdin and stderr) and types
 * each `send` once the output so far contains its `after`. Returns everything the terminal showed, which includes
 * anything echoed, so a test can prove that typed passwords are not.
 */
const PTY_SCRIPT = String.raw`
import json, os, pty, select, sys, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execv(spec["node"], [spec["node"]] + spec["args"])
out = b""
def pump(until, deadline):
    global out
    while until is None or until.encode() not in out:
        left = deadline - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return until is None
        if not chunk:
            return until is None
        out += chunk
    return True
ok = True
for step in spec["steps"]:
    if not pump(step["after"], time.time() + 30):
        ok = False
        break
    os.write(fd, step["send"].encode())
pump(None, time.time() + 30)
_, status = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({"ok": ok, "status": os.waitstatus_to_exitcode(status), "output": out.decode("utf-8", "replace")}))
`;

export function ptyRun(home: string, args: readonly string[], steps: readonly { after: string; send: string }[]): { ok: boolean; status: number; output: string } {
  const spec = { node: process.execPath, args: [CLI, '--home', home, ...args], steps };
  const r = spawnSync('python3', ['-c', PTY_SCRIPT, JSON.stringify(spec)], { encoding: 'utf8', timeout: 90_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `pty runner failed: ${r.stderr}`);
  const result = JSON.parse(r.stdout) as { ok: boolean; status: number; output: string };
  transcript.push(result.output);
  return result;
}
