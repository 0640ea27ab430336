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

export function challengesFor(settings: AuthenticationSettings, connection: Pick<ConnectionInfo, 'secure' | 'loopback'>, host: string): string[] {
  const lines: string[] = [];
  // Enabled schemes missing from `order` still get a challenge, after the ordered ones.
  const order = [...settings.order, ...AUTH_SCHEMES.filter((s) => !settings.order.includes(s))];
  for (const scheme of order) {
    if (scheme === 'Basic' && basicUsable(settings, connection)) {
      // IIS uses the host name when no realm is configured.
      lines.push(`Basic realm=${quote(settings.basic.realm || host)}, charset="UTF-8"`);
    }
  }
  return lines;
}
