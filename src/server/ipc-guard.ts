/**
 * The launcher keeps a Node IPC channel with each worker (listening sockets, TLS files, readiness). Node's IPC trusts
 * its peer, and the worker runs as a less privileged account: this guard keeps a compromised worker from crashing the
 * root launcher through it.
 */
import type { ChildProcess } from 'node:child_process';

const guarded = new WeakSet<ChildProcess>();

/**
 * Node's IPC trusts its peer: messages whose `cmd` starts with "NODE_" are handled by Node itself, before any
 * 'message' listener, and two of them crash the parent — a NODE_HANDLE_ACK/NACK that arrives when no handle is
 * waiting for one fails an internal assertion, and a NODE_HANDLE naming an unknown handle type throws a TypeError.
 * A compromised worker (it runs as a less privileged account) could so take the root launcher down with one line.
 * This listener runs first and makes both harmless: it gives Node an empty handle queue to acknowledge, and it closes
 * any handle a worker sends (workers never send handles to the launcher) and relabels it as a plain native handle
 * for Node, with a message nobody listens for. Uses Node internals (`_handleQueue`, 'internalMessage');
 * test/server/ipc-guard.test.ts sends these messages, so a Node that changes them fails a test instead of the launcher.
 */
export function guardInternalMessages(worker: ChildProcess): void {
  if (guarded.has(worker)) return;
  guarded.add(worker);
  const internals = worker as ChildProcess & { _handleQueue?: unknown[] | null };
  worker.prependListener('internalMessage' as 'message', (message: unknown, handle: unknown) => {
    if (typeof message !== 'object' || message === null) return;
    const m = message as { cmd?: unknown; type?: unknown; msg?: unknown };
    if ((m.cmd === 'NODE_HANDLE_ACK' || m.cmd === 'NODE_HANDLE_NACK') && !Array.isArray(internals._handleQueue)) internals._handleQueue = [];
    if (m.cmd === 'NODE_HANDLE' && handle) {
      closeHandle(handle);
      m.type = 'net.Native';
      m.msg = { persona: 'ipc-guard', type: 'unexpected-handle' };
    }
  });
}

function closeHandle(handle: unknown): void {
  try {
    const h = handle as { destroy?: () => void; close?: () => void };
    if (typeof h.destroy === 'function') h.destroy();
    else if (typeof h.close === 'function') h.close();
  } catch {
    // Already closed.
  }
}
