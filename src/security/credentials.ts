/**
 * Delegable credentials (MODEL.md §3, §6): the clear-text password a ClearText, Interactive or Batch logon keeps so
 * the server can reach other machines as the user (the double hop). It is deliberately NOT a field of the token:
 * tokens are logged, cached, explained and compared, and none of that may ever see a password. The secret is
 * reachable only through the token object itself and dies with it (a WeakMap holds no token alive).
 */
import type { Token } from './token.js';

export interface DelegableSecret {
  readonly domain: string;
  readonly user: string;
  readonly password: string;
}

const secrets = new WeakMap<Token, DelegableSecret>();

/**
 * Attaches the secret to a token that says it holds a password. Attaching to any other token is a programming
 * error (a network logon must not quietly become delegable), so it throws instead of returning a value.
 */
export function attachCredentials(token: Token, secret: { domain: string; user: string; password: string }): void {
  if (token.delegation.kind !== 'password') {
    throw new TypeError(`a token with delegation '${token.delegation.kind}' cannot hold a password`);
  }
  // A frozen copy: the caller's object may be reused or mutated after the logon.
  secrets.set(token, Object.freeze({ domain: secret.domain, user: secret.user, password: secret.password }));
}

export function credentialsOf(token: Token): { domain: string; user: string; password: string } | undefined {
  const secret = secrets.get(token);
  return secret === undefined ? undefined : { domain: secret.domain, user: secret.user, password: secret.password };
}
