/**
 * Stage `accept`: what Persona knows about a connection before any request on it. One ConnectionInfo per socket,
 * made on first use and kept for the connection's lifetime; connection-oriented authentication (NTLM) will hang its
 * state here, which is why it is per socket and not per request.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { NtlmConnectionState } from '../auth/ntlm/provider.js';

export interface ConnectionInfo {
  readonly id: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  /** The client is on this machine (127.0.0.0/8, ::1): it may see detailed errors. */
  readonly loopback: boolean;
  /** Requests served on this connection so far. */
  requests: number;
  /**
   * The last Basic credentials seen on this connection and their token-cache key, so a keep-alive client repeating
   * the same header skips decoding and the keyed hash. It lives only as long as the connection (whose requests carry
   * the same header anyway).
   */
  basicMemo: { readonly token68: string; readonly settings: string; readonly key: string } | undefined;
  /** NTLM authenticates connections: the pending CHALLENGE, then the token, live here and die with the socket. */
  ntlm: NtlmConnectionState | undefined;
  /** The DER certificate this TLS connection presented (SNI may choose it per connection); undefined over plain HTTP. */
  localCertificate(): Buffer | undefined;
}

const INFO = Symbol('persona.connection');
let nextId = 1;

export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Strips the IPv4-mapped prefix so logs show 127.0.0.1, not ::ffff:127.0.0.1. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '-';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function connectionInfo(socket: Socket): ConnectionInfo {
  const existing = (socket as Socket & { [INFO]?: ConnectionInfo })[INFO];
  if (existing) return existing;
  const remoteAddress = plainAddress(socket.remoteAddress);
  const info: ConnectionInfo = {
    id: nextId++,
    localAddress: plainAddress(socket.localAddress),
    localPort: socket.localPort ?? 0,
    remoteAddress,
    remotePort: socket.remotePort ?? 0,
    secure: socket instanceof TLSSocket,
    loopback: isLoopbackAddress(remoteAddress),
    requests: 0,
    basicMemo: undefined,
    ntlm: undefined,
    localCertificate: () => (socket instanceof TLSSocket ? certificateOf(socket) : undefined),
  };
  (socket as Socket & { [INFO]?: ConnectionInfo })[INFO] = info;
  return info;
}

function certificateOf(socket: TLSSocket): Buffer | undefined {
  const certificate = socket.getCertificate();
  return certificate !== null && 'raw' in certificate && Buffer.isBuffer(certificate.raw) ? certificate.raw : undefined;
}
