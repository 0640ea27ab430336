/**
 * Runs a Python 3 program (Debian's /usr/bin/python3, the one with python3-requests) with JSON on stdin and JSON on
 * stdout: the Digest tests' independent implementation of the same hashes. No network.
 */
import { PYTHON, runProcess } from '../../interop/clients.js';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function runPython(program: string, input: unknown): Promise<unknown> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-digest-py-'));
  try {
    const script = path.join(dir, 'program.py');
    const data = path.join(dir, 'input.json');
    await writeFile(script, program);
    await writeFile(data, JSON.stringify(input));
    const result = await runProcess(PYTHON, [script, data], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(`python3 failed (${result.code ?? result.signal}): ${result.stderr}`);
    return JSON.parse(result.stdout.toString('utf8')) as unknown;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
