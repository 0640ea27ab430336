/**
 * What a 401 offers: one WWW-Authenticate line per enabled scheme, in the configured order (MODEL.md §5; default
 * Negotiate, NTLM, Digest, Basic). Schemes join this list as their providers are written.
 *
 * The lines are memoised per settings, connection kind and host, since most requests never send them. Digest lines
 * are the exception: each 401 must carry a fresh nonce (nonce counts are per nonce). So the memoised list holds the
 * Digest lines as they were when it was made, and remembers (by the list's identity) how to make them again;
 * `freshChallenges` — which every 401 goes through (`unauthorized`) — renders them with a new nonce. Requests that
 * succeed pay nothing for Digest. Should a memoised list reach a client unrendered, its Digest lines still work: their
 * nonce is valid, only shared (and answered with stale=true once expired).
 */
import { AUTH_SCHEMES, type AuthenticationSettings } from '../config/schema.js';
import type { ConnectionInfo } from '../server/connection.js';
import { digestIssuer, type DigestIssuerSource } from './digest/issuer.js';

/** Basic sends the password in clear: offered over TLS, to loopback clients, or where the site allows it. */
export function basicUsable(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>): boolean {
  return settings.basic.enabled && (connection.secure || connection.loopback || settings.basic.allowCleartext);
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** How to render a memoised list again: its Digest lines start at `at` and are `count` long. */
interface DigestSlot {
  readonly at: number;
  readonly count: number;
  readonly render: (stale: boolean) => string[];
}
const digestSlots = new WeakMap<readonly string[], DigestSlot>();

// The lines depend on the settings object (immutable per configuration generation), the connection kind, the host and
// (for Digest) the security services: made once per combination, not per request.
const memo = new WeakMap<AuthenticationSettings, WeakMap<object, Map<string, readonly string[]>>>();
const NO_SECURITY = {};

/**
 * The challenge lines of a 401 for these settings. `security` is needed for Digest (nonce key, machine name as the
 * default realm); without it no Digest line is offered. Send them through `freshChallenges`.
 */
export function challengesFor(
  settings: AuthenticationSettings,
  connection: Pick<ConnectionInfo, 'secure' | 'loopback'>,
  host: string,
  security?: DigestIssuerSource,
): readonly string[] {
  const key = `${connection.secure ? 's' : ''}${connection.loopback ? 'l' : ''}:${host}`;
  let perSettings = memo.get(settings);
  if (!perSettings) memo.set(settings, (perSettings = new WeakMap()));
  let perSecurity = perSettings.get(security ?? NO_SECURITY);
  if (!perSecurity) perSettings.set(security ?? NO_SECURITY, (perSecurity = new Map()));
  const known = perSecurity.get(key);
  if (known) return known;
  const lines = makeChallenges(settings, connection, host, security);
  if (perSecurity.size < 1000) perSecurity.set(key, lines);
  return lines;
}

/**
 * The lines to send with one 401: a copy of `challenges` whose Digest lines (if any) carry a new nonce, with
 * stale=true when `stale` (the client's nonce expired: it may retry without asking the user again).
 */
export function freshChallenges(challenges: readonly string[], stale = false): string[] {
  const slot = digestSlots.get(challenges);
  if (!slot) return [...challenges];
  return [...challenges.slice(0, slot.at), ...slot.render(stale), ...challenges.slice(slot.at + slot.count)];
}

function makeChallenges(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>, host: string, security: DigestIssuerSource | undefined): readonly string[] {
  const lines: string[] = [];
  let slot: DigestSlot | undefined;
  // Enabled schemes missing from `order` still get a challenge, after the ordered ones.
  const order = [...settings.order, ...AUTH_SCHEMES.filter((s) => !settings.order.includes(s))];
  for (const scheme of order) {
    // NTLM's first challenge carries no data: the client answers with a NEGOTIATE on the same connection.
    if (scheme === 'NTLM' && settings.ntlm.enabled) lines.push('NTLM');
    if (scheme === 'Digest' && settings.digest.enabled && security) {
      const issuer = digestIssuer(security);
      const render = (stale: boolean) => issuer.challengeLines(settings.digest, stale);
      const digestLines = render(false);
      slot = { at: lines.length, count: digestLines.length, render };
      lines.push(...digestLines);
    }
    if (scheme === 'Basic' && basicUsable(settings, connection)) {
      // IIS uses the host name when no realm is configured.
      lines.push(`Basic realm=${quote(settings.basic.realm || host)}, charset="UTF-8"`);
    }
  }
  const frozen = Object.freeze(lines);
  if (slot) digestSlots.set(frozen, slot);
  return frozen;
}
