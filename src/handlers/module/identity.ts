/**
 * Which identity a JS handler module runs as (ASP.NET's <identity>, MODEL.md §1 "Script pages" and §8): a pure
 * decision with its reason, used by the handler and by `explain` alike.
 *
 * - userName set (a fixed account): that account's token, logged on once per configuration generation by the
 *   caller (the password is configuration, never request data); a failed logon is a refusal with its reason.
 * - impersonate true (default): the request token — IUSR for anonymous requests, the user for Basic/NTLM.
 * - impersonate false: the process identity (the application pool's), whoever the user is.
 *
 * The fixed account wins over `impersonate`, as in ASP.NET where <identity impersonate="true" userName="…"> runs
 * every request as that account.
 */
import type { Token } from '../../security/token.js';
import type { Settings } from '../../config/schema.js';

export type IdentitySettings = Settings['identity'];

/** The fixed account's logon, made by the caller: the token, or why the logon failed (already audited). */
export type FixedLogon = { readonly ok: true; readonly token: Token } | { readonly ok: false; readonly reason: string };

export type ModuleIdentity = { readonly ok: true; readonly token: Token; readonly reason: string } | { readonly ok: false; readonly status: 500; readonly reason: string };

export function moduleIdentity(settings: IdentitySettings, requestToken: Token, processToken: Token, fixed?: FixedLogon): ModuleIdentity {
  if (settings.userName !== '') {
    if (fixed === undefined) return { ok: false, status: 500, reason: `identity.userName is ${settings.userName}, but no logon was made for it` };
    if (!fixed.ok) return { ok: false, status: 500, reason: `the handler module's fixed identity ${settings.userName} cannot log on: ${fixed.reason}` };
    return { ok: true, token: fixed.token, reason: `impersonating the fixed account ${fixed.token.user.name} (identity.userName), whoever the user is` };
  }
  if (settings.impersonate) {
    return { ok: true, token: requestToken, reason: `impersonating the request token ${requestToken.user.name} (identity.impersonate: true)` };
  }
  return { ok: true, token: processToken, reason: `running as the process identity ${processToken.user.name} (identity.impersonate: false)` };
}
