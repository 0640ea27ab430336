/**
 * Stage `authenticateRequest` — the slot the security-core issue fills with providers (Anonymous, Basic, then
 * NTLM, Digest, Negotiate, certificates) that turn credentials into a Windows-style token or answer 401 with
 * challenges. Until then every request is anonymous: there is no token and `cs-username` is '-', which is exactly
 * what IIS logs for anonymous requests.
 */
import type { RequestUser } from '../context.js';

export const ANONYMOUS: RequestUser = Object.freeze({ name: '', authType: 'Anonymous' });

export function authenticateRequest(): RequestUser {
  return ANONYMOUS;
}
