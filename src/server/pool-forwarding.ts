/**
 * One worker per application pool (MODEL.md §8): the front worker (DefaultAppPool's) owns the listening sockets;
 * a request whose URL belongs to an application of another pool is forwarded, unchanged, to that pool's worker over
 * a Unix socket in the state folder's run directory (group `persona`, so CGI programs cannot reach it). Each client
 * connection gets its own upstream connection per pool, kept for its life: connection-oriented authentication
 * (NTLM) stays bound to the client's connection. The facts the pool worker cannot see — the client's address, the
 * front's listener, TLS and its certificate — travel in one header, MACed with a key only the launcher's workers
 * have; a request without a valid one is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { ConnectionInfo } from './connection.js';

export const FORWARDED_HEADER = 'x-persona-forwarded';
export const FORWARDED_MAC_HEADER = 'x-persona-forwarded-mac';

/** What the front knew about the client's connection. */
export interface ForwardedFacts {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly loopback: boolean;
  /** The front listener's key (protocol://ip:port): the pool worker selects the site as the front did. */
  readonly listener: string;
  /** The DER certificate of a TLS connection, base64 (Extended Protection needs it). */
  readonly certificate?: string;
  /** The client connection's id at the front, for logs. */
  readonly connection: number;
}

function mac(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

export function encodeFacts(facts: ForwardedFacts, key: Buffer): { value: string; mac: string } {
  const value = Buffer.from(JSON.stringify(facts)).toString('base64url');
  return { value, mac: mac(key, value) };
}

/** The facts, or undefined when the header is missing, malformed or not MACed with our key. */
export function decodeFacts(value: unknown, macValue: unknown, key: Buffer): ForwardedFacts | undefined {
  if (typeof value !== 'string' || typeof macValue !== 'string' || value.length > 16_384) return undefined;
  const expected = Buffer.from(mac(key, value));
  const given = Buffer.from(macValue);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const facts = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as ForwardedFacts;
    if (typeof facts.remoteAddress !== 'string' || typeof facts.listener !== 'string' || typeof facts.secure !== 'boolean') return undefined;
    return facts;
  } catch {
    return undefined;
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): not forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface ForwardTarget {
  readonly pool: string;
  readonly socketPath: string;
}

const agents = new WeakMap<ConnectionInfo, Map<string, http.Agent>>();

/** The upstream agent of this client connection for this pool: one socket, kept while the client's connection lives. */
function agentFor(connection: ConnectionInfo, socketPath: string, clientSocket: import('node:net').Socket): http.Agent {
  let perConnection = agents.get(connection);
  if (!perConnection) {
    agents.set(connection, (perConnection = new Map()));
    clientSocket.once('close', () => {
      for (const agent of perConnection!.values()) agent.destroy();
      agents.delete(connection);
    });
  }
  let agent = perConnection.get(socketPath);
  if (!agent) perConnection.set(socketPath, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
  return agent;
}

/**
 * Sends the request to the pool's worker and streams its answer back. Resolves with a reason when the pool's
 * worker cannot be reached and nothing was sent (503, as IIS answers for a stopped pool); null otherwise.
 */
export function forwardToPool(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  connection: ConnectionInfo,
  target: ForwardTarget,
  facts: ForwardedFacts,
  key: Buffer,
): Promise<string | null> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === FORWARDED_HEADER || name === FORWARDED_MAC_HEADER) continue;
      headers[name] = value;
    }
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
    const signed = encodeFacts(facts, key);
    headers[FORWARDED_HEADER] = signed.value;
    headers[FORWARDED_MAC_HEADER] = signed.mac;
    const upstream = http.request({
      socketPath: target.socketPath,
      method: req.method,
      path: req.url,
      headers,
      agent: agentFor(connection, target.socketPath, req.socket),
    });
    upstream.on('response', (answer) => {
      const out: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP.has(answer.rawHeaders[i]!.toLowerCase())) out.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      if (answer.headers.connection === 'close') out.push('Connection', 'close');
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      res.once('close', () => {
        if (!answer.complete) answer.destroy();
        resolve(null);
      });
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        resolve(null);
      } else {
        resolve(`the worker of application pool ${target.pool} cannot be reached (${err.message})`);
      }
    });
    req.pipe(upstream);
  });
}

/** What the front worker knows about the other pools' workers. */
export class PoolRouting {
  private readonly sockets: ReadonlyMap<string, ForwardTarget>;

  constructor(
    /** The pool this (front) worker serves itself. */
    private readonly ownPool: string,
    /** Pool name → its worker's socket. */
    sockets: Readonly<Record<string, string>>,
    readonly key: Buffer,
  ) {
    this.sockets = new Map(Object.entries(sockets).map(([pool, socketPath]) => [pool.toLowerCase(), { pool, socketPath }]));
  }

  /** Where a request of this pool goes; undefined = served here (this worker's pool, or a pool without a worker). */
  targetFor(pool: string): { target: ForwardTarget; key: Buffer; facts: (connection: ConnectionInfo, sites: { listener?: string }) => ForwardedFacts } | undefined {
    const lower = pool.toLowerCase();
    if (lower === this.ownPool.toLowerCase()) return undefined;
    const target = this.sockets.get(lower);
    if (!target) return undefined;
    return {
      target,
      key: this.key,
      facts: (connection, sites) => {
        const certificate = connection.secure ? connection.localCertificate()?.toString('base64') : undefined;
        return {
          remoteAddress: connection.remoteAddress,
          remotePort: connection.remotePort,
          localAddress: connection.localAddress,
          localPort: connection.localPort,
          secure: connection.secure,
          loopback: connection.loopback,
          listener: sites.listener ?? '',
          ...(certificate !== undefined && { certificate }),
          connection: connection.id,
        };
      },
    };
  }
}
