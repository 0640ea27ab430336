/**
 * What a 401 offers: one WWW-Authenticate line per enabled scheme, in the configured order (MODEL.md §5; default
 * Negotiate, NTLM, Digest, Basic). Schemes join this list as their providers are written.
 */
import { AUTH_SCHEMES, type AuthenticationSettings } from '../config/schema.js';
import type { ConnectionInfo } from '../server/connection.js';

/** Basic sends the password in clear: offered over TLS, to loopback clients, or where the site allows it. */
export function basicUsable(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>): boolean {
  return settings.basic.enabled && (connection.secure || connection.loopback || settings.basic.allowCleartext);
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// The lines depend on the settings object (immutable per configuration generation), the connection kind and the
// host: made once per combination, not per request.
const memo = new WeakMap<AuthenticationSettings, Map<string, readonly string[]>>();

export function challengesFor(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>, host: string): readonly string[] {
  const key = `${connection.secure ? 's' : ''}${connection.loopback ? 'l' : ''}:${host}`;
  let perSettings = memo.get(settings);
  const known = perSettings?.get(key);
  if (known) return known;
  const lines = makeChallenges(settings, connection, host);
  if (!perSettings) memo.set(settings, (perSettings = new Map()));
  if (perSettings.size < 1000) perSettings.set(key, lines);
  return Object.freeze(lines);
}

function makeChallenges(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>, host: string): readonly string[] {
  const lines: string[] = [];
  // Enabled schemes missing from `order` still get a challenge, after the ordered ones.
  const order = [...settings.order, ...AUTH_SCHEMES.filter((s) => !settings.order.includes(s))];
  for (const scheme of order) {
    // NTLM's first challenge carries no data: the client answers with a NEGOTIATE on the same connection.
    if (scheme === 'NTLM' && settings.ntlm.enabled) lines.push('NTLM');
    if (scheme === 'Basic' && basicUsable(settings, connection)) {
      // IIS uses the host name when no realm is configured.
      lines.push(`Basic realm=${quote(settings.basic.realm || host)}, charset="UTF-8"`);
    }
  }
  return Object.freeze(lines);
}
