/**
 * The demo site as a user meets it: the first `persona serve` on an empty state folder, with the demo user's
 * password chosen through PERSONA_DEMO_PASSWORD, on a free loopback port. The interop tests log into its
 * `/secure/` folder with real clients and read what the server wrote to its W3C log.
 */
import { after, before } from 'node:test';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';

export const DEMO_USER = 'alice';
export const REALM_CHALLENGE = 'Basic realm="Persona demo", charset="UTF-8"';

export interface Demo {
  readonly server: RunningPersona;
  readonly port: number;
  /** http://127.0.0.1:<port> (no trailing slash). */
  readonly base: string;
  readonly password: string;
  /** The machine name printed at start-up (`machine <NAME> (<SID>)`): local accounts are `<NAME>\user`. */
  readonly machine: string;
  /** Stops the server and removes its state folder. */
  stop(): Promise<void>;
}

export interface DemoOptions {
  /**
   * The demo offers NTLM, Digest and Basic; Basic-only turns NTLM and Digest off in the generated persona.yaml (then
   * restarts), for the suites about Basic: a client that prefers another scheme would otherwise never send Basic.
   */
  readonly basicOnly?: boolean;
  /** Digest only (NTLM and Basic off): every client answers Digest (Java and Chromium prefer NTLM otherwise). */
  readonly digestOnly?: boolean;
  /** Digest off: the demo as the NTLM suite knows it (NTLM, then Basic); Java would pick Digest over NTLM. */
  readonly noDigest?: boolean;
}

/** The edits each option makes to the generated persona.yaml: [what the line says, what it becomes]. */
function demoEdits(options: DemoOptions): [RegExp, string][] {
  const ntlmOff: [RegExp, string] = [/ntlm: \{ enabled: true \}/, 'ntlm: { enabled: false }'];
  const digestOff: [RegExp, string] = [/digest: \{ enabled: true \}/, 'digest: { enabled: false }'];
  const basicOff: [RegExp, string] = [/basic: \{ enabled: true,/, 'basic: { enabled: false,'];
  if (options.basicOnly) return [ntlmOff, digestOff];
  if (options.digestOnly) return [ntlmOff, basicOff];
  if (options.noDigest) return [digestOff];
  return [];
}

export async function startDemo(password: string, options: DemoOptions = {}): Promise<Demo> {
  const parent = await tempDir('interop');
  const home = path.join(parent, 'state');
  const port = await freePort();
  let server: RunningPersona;
  const env = { PERSONA_DEMO_PORT: String(port), PERSONA_DEMO_PASSWORD: password };
  try {
    server = await startPersona(undefined, { home, env });
    const edits = demoEdits(options);
    if (edits.length > 0) {
      await server.stop();
      const file = path.join(home, 'persona.yaml');
      const yaml = await readFile(file, 'utf8');
      let edited = yaml;
      for (const [line, replacement] of edits) {
        if (!line.test(edited)) throw new Error(`the demo's persona.yaml no longer matches ${line}:\n${yaml}`);
        edited = edited.replace(line, replacement);
      }
      await writeFile(file, edited);
      const firstRun = server.output;
      server = await startPersona(undefined, { home, env });
      // What the first run printed (the login line) stays readable, as a user's terminal keeps it.
      server.output = firstRun + server.output;
    }
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  const machine = /machine\s+(\S+)\s+\(S-1-5-21-[\d-]+\)/.exec(server.output)?.[1];
  if (!machine) {
    await server.stop();
    throw new Error(`persona did not print "machine <NAME> (<SID>)" at start-up:\n${server.output}`);
  }
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    password,
    machine,
    async stop() {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** One W3C log line as field name → raw (escaped) value, from the `#Fields:` directive in force above it. */
export type W3cEntry = Readonly<Record<string, string>>;

export function parseW3cLog(text: string): W3cEntry[] {
  const entries: W3cEntry[] = [];
  let fields: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#Fields:')) {
      fields = line.slice('#Fields:'.length).trim().split(' ');
      continue;
    }
    if (line.startsWith('#')) continue;
    const values = line.split(' ');
    entries.push(Object.fromEntries(fields.map((f, i) => [f, values[i] ?? ''])));
  }
  return entries;
}

/**
 * Waits (at most `timeoutMs`) until the site's W3C log holds `count` entries matching `match`, and returns the
 * whole log's entries. The writer batches lines for up to a second, so the log is polled rather than read once.
 */
export async function waitForW3c(demo: Demo, match: (e: W3cEntry) => boolean, count = 1, timeoutMs = 8_000): Promise<W3cEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let entries: W3cEntry[] = [];
    try {
      entries = parseW3cLog(await demo.server.w3cLog(1));
    } catch {
      // The log folder appears with the first batch.
    }
    if (entries.filter(match).length >= count) return entries;
    if (Date.now() > deadline) {
      throw new Error(`the W3C log has no ${count} matching line(s) after ${timeoutMs} ms:\n${entries.map((e) => JSON.stringify(e)).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the demo site for the enclosing describe block (before/after hooks) and returns its accessor, which fails
 * clearly when the before hook did not get it running.
 */
export function demoSite(password: string, beforeStart: () => void | Promise<void> = () => undefined, options: DemoOptions = {}): () => Demo {
  let demo: Demo | undefined;
  before(async () => {
    await beforeStart();
    demo = await startDemo(password, options);
  });
  after(async () => demo?.stop());
  return () => {
    if (!demo) throw new Error('the demo site did not start (see the before hook)');
    return demo;
  };
}
