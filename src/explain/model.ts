/**
 * What `persona explain` reports (its --json output), section by section as issue 6 orders them. Every decision in it
 * comes from the function the server itself calls for that decision, with that function's reason, so the explanation
 * cannot drift from the behaviour.
 */
import type { UrlReport } from '../config/show.js';

export type ExplainScheme = 'anonymous' | 'basic' | 'ntlm' | 'digest' | 'negotiate' | 'cert';

export interface ExplainRequest {
  readonly url: string;
  readonly method: string;
  /** The user to log on as (a local account name); undefined with --anonymous. */
  readonly user: string | undefined;
  /** The scheme the client uses; default: anonymous without a user, else the one a browser would pick. */
  readonly scheme: ExplainScheme | undefined;
}

export interface SidInfo {
  readonly sid: string;
  readonly name: string;
}

export interface TokenInfo {
  readonly user: SidInfo;
  readonly groups: readonly SidInfo[];
  readonly logonType: string;
  readonly authPackage: string;
  readonly privileges: readonly string[];
  readonly delegable: boolean;
  readonly delegation: string;
  readonly osAccount: string | null;
  /** How the server would keep this logon (token cache, connection, none) and why. */
  readonly caching: string;
}

export interface LoginReport {
  readonly scheme: ExplainScheme;
  readonly ok: boolean;
  /** When not ok: the status the client gets and the reason the audit log records. */
  readonly status?: string;
  readonly reason: string;
  readonly token?: TokenInfo;
}

export interface AceStep {
  readonly ace: string;
  readonly from: string;
  /** skipped (not in the token / inherit-only), granted bits, denied bits, or no effect. */
  readonly effect: string;
  readonly decided: boolean;
}

export interface AccessReport {
  readonly handler: { readonly name: string; readonly kind: string; readonly requiredAccess: string | null; readonly reason: string };
  readonly accessFlags: { readonly allowed: boolean; readonly reason: string };
  readonly acl?: {
    readonly path: string;
    readonly desired: string;
    readonly allowed: boolean;
    readonly reason: string;
    readonly walk: readonly AceStep[];
  };
  /** The status the request ends with at this point: 200 when everything allows it. */
  readonly status: string;
  readonly reason: string;
}

export interface OsIdentity {
  readonly account: string;
  readonly uid: number | null;
  readonly gid: number | null;
  readonly groups: readonly string[];
}

export interface CodeIdentity {
  /** What kind of code: filter, handler, handler after revertToSelf, CGI, FastCGI, child_process, spawnAsUser. */
  readonly code: string;
  /** The Persona identity (token user) the code acts as, for ACL checks. */
  readonly identity: string;
  /** The OS account its process runs as (in-process code: the worker's). */
  readonly os: OsIdentity | null;
  /** When this kind of code would be refused (403.19 …). */
  readonly refused?: string;
  readonly network: string;
  readonly reason: string;
}

export interface SchemeLine {
  readonly scheme: string;
  readonly summary: string;
}

export interface Explanation {
  readonly request: ExplainRequest;
  readonly config: UrlReport;
  readonly filtering: { readonly allowed: boolean; readonly verdict: string };
  readonly challenges: { readonly offered: readonly string[]; readonly browserPicks: string | null; readonly why: string };
  readonly login: LoginReport;
  readonly access: AccessReport | null;
  readonly code: readonly CodeIdentity[];
  readonly otherSchemes: readonly SchemeLine[];
  /** What changes when Persona does not run as root. */
  readonly processModel: string;
}
