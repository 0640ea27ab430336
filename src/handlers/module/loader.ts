/**
 * Loading handler modules: imported once per configuration generation (a reload imports the file again, so an
 * edited module takes effect as a new generation does), and the optional `start(persona)` hook awaited once,
 * before the first request is served, AS THE PROCESS IDENTITY — application start code never runs as whoever
 * happened to send the first request (MODEL.md §1). Failures are values cached with the module: every request
 * for it gets the same 500 reason, and the log gets it once.
 */
import { pathToFileURL } from 'node:url';
import type { HandlerContext, HandlerModule } from './contract.js';

export type LoadedModule = { readonly ok: true; readonly module: HandlerModule } | { readonly ok: false; readonly reason: string };

export interface LoadOptions {
  /**
   * Runs the start hook: the caller gives it the process identity's context and runs it inside that identity
   * (whatever async context the first request's load happens in).
   */
  readonly runStart: (start: (persona: HandlerContext) => unknown) => Promise<unknown>;
  /** Told once per module and generation when loading or starting fails. */
  readonly onFailure: (file: string, reason: string) => void;
}

/** Per generation (the key object), per absolute module file: the load and start, shared by concurrent requests. */
const loaded = new WeakMap<object, Map<string, Promise<LoadedModule>>>();
const generationIds = new WeakMap<object, number>();
let nextGenerationId = 0;

export function loadHandlerModule(generation: object, file: string, options: LoadOptions): Promise<LoadedModule> {
  let modules = loaded.get(generation);
  if (!modules) loaded.set(generation, (modules = new Map()));
  let pending = modules.get(file);
  if (!pending) {
    pending = loadAndStart(generationId(generation), file, options).then((result) => {
      if (!result.ok) options.onFailure(file, result.reason);
      return result;
    });
    modules.set(file, pending);
  }
  return pending;
}

function generationId(generation: object): number {
  let id = generationIds.get(generation);
  if (id === undefined) generationIds.set(generation, (id = ++nextGenerationId));
  return id;
}

async function loadAndStart(generation: number, file: string, options: LoadOptions): Promise<LoadedModule> {
  // ESM caches by URL: the generation in the query makes each generation import its own instance.
  const url = `${pathToFileURL(file).href}?generation=${generation}`;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, reason: `handler module ${file} cannot be loaded: ${messageOf(err)}` };
  }
  const handle = exports.default;
  const start = exports.start;
  if (typeof handle !== 'function') {
    return { ok: false, reason: `handler module ${file} has no default export function (export default async function (req, res, persona) { … })` };
  }
  if (start !== undefined && typeof start !== 'function') {
    return { ok: false, reason: `handler module ${file} exports a start that is not a function` };
  }
  const module: HandlerModule = start === undefined ? { handle: handle as HandlerModule['handle'] } : { handle: handle as HandlerModule['handle'], start: start as NonNullable<HandlerModule['start']> };
  if (module.start) {
    try {
      await options.runStart(module.start);
    } catch (err) {
      return { ok: false, reason: `handler module ${file}: start() failed: ${messageOf(err)}` };
    }
  }
  return { ok: true, module };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
