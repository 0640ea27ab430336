/**
 * Launches Debian's Chromium (/usr/bin/chromium) headless through playwright-core, the way the LAB notes found to
 * work on these machines: root needs --no-sandbox, the network-chatty background features are off (the machines
 * have no network but loopback), and every launch gets a fresh profile of its own.
 *
 * The profile is a folder we create (mkdtemp), not Playwright's hidden one, so that a test can seed it before the
 * browser starts — Negotiate, for instance, only works once `Local State` says the profile has seen such headers.
 * Playwright refuses `--user-data-dir` in `args`, so a chosen profile means a persistent context: one launch gives
 * one context. A test that needs two sets of credentials launches twice.
 *
 * A missing browser is an error with the command that installs it, never a skip: an interop suite that silently
 * skips its browser proves nothing.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags of /work/shared/docs/LAB.md; QUIC off keeps every request on the TCP connection a server can see. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

type PersistentOptions = NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>;

/** Context options a test may set (credentials, client certificates, TLS leniency, headers, …). */
export type ChromiumContextOptions = Omit<PersistentOptions, 'executablePath' | 'args' | 'headless' | 'chromiumSandbox' | 'timeout'>;

export interface ChromiumOptions {
  /** Options of the one browser context, e.g. `{ httpCredentials: { username, password } }`. */
  readonly context?: ChromiumContextOptions;
  /** Flags added after CHROMIUM_ARGS, e.g. `--auth-server-allowlist=127.0.0.1`. */
  readonly extraArgs?: readonly string[];
  /** Written as `<profile>/Local State` (JSON) before the launch. */
  readonly localState?: Readonly<Record<string, unknown>>;
  /** Bound on the launch itself (default 30 s); page operations keep Playwright's own per-call timeouts. */
  readonly launchTimeoutMs?: number;
}

export interface ChromiumSession {
  readonly context: BrowserContext;
  readonly userDataDir: string;
  /** A new tab in the context. */
  newPage(): Promise<Page>;
  /** Closes the browser and removes the profile; safe to call twice. */
  close(): Promise<void>;
}

/** Why Chromium cannot be used here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  return (
    `Chromium is not installed (${CHROMIUM_PATH} is missing). Install the Debian package "chromium": ` +
    'run `npm test` as root (scripts/ensure-system-packages.sh test installs it), or ' +
    '`apt-get update && apt-get install -y --no-install-recommends chromium`.'
  );
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<ChromiumSession> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'persona-chromium-'));
  try {
    if (options.localState) await writeFile(path.join(userDataDir, 'Local State'), JSON.stringify(options.localState));
    const context = await chromium.launchPersistentContext(userDataDir, {
      ...options.context,
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
      timeout: options.launchTimeoutMs ?? 30_000,
    });
    let closed = false;
    return {
      context,
      userDataDir,
      newPage: () => context.newPage(),
      async close() {
        if (closed) return;
        closed = true;
        try {
          await context.close();
        } finally {
          await rm(userDataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
