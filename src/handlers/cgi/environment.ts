/**
 * The environment of a CGI process (RFC 3875 §4.1), as IIS fills it, plus what php-cgi needs. Pure: everything comes
 * from the input, nothing from Persona's own environment (its PATH, HOME, secrets in variables…) reaches the script.
 *
 * What is deliberately withheld:
 * - `Authorization` and `Proxy-Authorization`: credentials never reach scripts (RFC 3875 §4.1.18 lets the server
 *   withhold them; IIS does not pass them either). IIS's AUTH_PASSWORD (the Basic password, offered to CGI by
 *   IIS ≤ 6) is not reproduced for the same reason.
 * - `Proxy`: a script would read HTTP_PROXY as its outgoing proxy (httpoxy, CVE-2016-5385).
 * - Header names containing `_`: `X_Forwarded_For` and `X-Forwarded-For` would both become HTTP_X_FORWARDED_FOR,
 *   letting a client forge a header that a front proxy set (Apache 2.4 and nginx drop them for this reason).
 * - Header names with characters an environment name cannot carry, and any value containing NUL (a C string cannot
 *   carry it; Node's spawn refuses it).
 *
 * PATH_INFO follows RFC 3875 (the part of the path after the script), not IIS's default of repeating the whole URL
 * path (`AllowPathInfoForScriptMappings=false`), which breaks most CGI programs written for other servers.
 */

export type CgiAuthType = 'Basic' | 'NTLM' | 'Negotiate' | 'Digest' | '';

export interface CgiEnvironmentInput {
  /** The request method as received (`GET`, `POST`…). */
  readonly method: string;
  /** IncomingMessage.httpVersion: `1.1`, `1.0`. */
  readonly httpVersion: string;
  /** IncomingMessage.rawHeaders: names and values alternating, as received (Node decodes the bytes as latin1). */
  readonly rawHeaders: readonly string[];
  /** The URL path of the script (`/cgi-bin/env.cgi`), decoded. */
  readonly scriptName: string;
  /** The URL path after the script (`/extra/path`), decoded; '' when none. */
  readonly pathInfo: string;
  /** PATH_INFO mapped to a physical path as if it were a URL path; only used when pathInfo is not empty. */
  readonly pathTranslated: string | undefined;
  /** The query string as received, without the `?`; '' when none. */
  readonly queryString: string;
  /** The request target as received (`/cgi-bin/env.cgi/extra?x=1`): php-cgi's REQUEST_URI. */
  readonly requestUri: string;
  /** The physical path of the script. */
  readonly scriptFilename: string;
  /** The physical path of the site's root. */
  readonly documentRoot: string;
  /** The host name the request was addressed to (Host header without the port, or the binding's name). */
  readonly serverName: string;
  readonly serverPort: number;
  readonly serverAddress: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The connection is TLS: HTTPS=on. */
  readonly secure: boolean;
  /** The scheme that authenticated the request; '' for anonymous. */
  readonly authType: CgiAuthType;
  /** The authenticated user as logged (`MACHINE\bob`); '' for anonymous (IIS: REMOTE_USER empty, §5.5). */
  readonly userName: string;
  /**
   * IIS's LOGON_USER: the account whose token runs the request. It differs from AUTH_USER when the authenticated
   * name is mapped to another account (client-certificate or other mappings); IIS leaves it '' for anonymous.
   */
  readonly logonUser: string;
  /** The request body's length; CONTENT_LENGTH is set only when it is > 0 (RFC 3875 §4.1.2: no body, no variable). */
  readonly contentLength: number | undefined;
  /** The Content-Type request header, when present. */
  readonly contentType: string | undefined;
  /** `Persona/<version>`. */
  readonly serverSoftware: string;
}

/** Scripts find their tools here; Persona's own PATH is not inherited. */
export const CGI_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Request headers that never become HTTP_* variables (lower case). */
const WITHHELD = new Set(['authorization', 'proxy-authorization', 'proxy', 'content-length', 'content-type']);

/** A header name whose HTTP_* form is a portable environment name: letters, digits and '-' only. */
const PASSABLE_NAME = /^[A-Za-z0-9-]+$/;

export function cgiEnvironment(input: CgiEnvironmentInput): Record<string, string> {
  // Built as an object literal with its fixed variables first, then the optional ones and the headers: one shape for
  // the common part, no deletes (an object that had properties deleted, or one made by Object.create(null), is a slow
  // dictionary in V8, and this object is read again to encode it, once per CGI request).
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: input.serverSoftware,
    SERVER_NAME: input.serverName,
    SERVER_PORT: String(input.serverPort),
    SERVER_ADDR: input.serverAddress,
    SERVER_PROTOCOL: `HTTP/${input.httpVersion}`,
    REQUEST_METHOD: input.method,
    REQUEST_URI: input.requestUri,
    SCRIPT_NAME: input.scriptName,
    SCRIPT_FILENAME: input.scriptFilename,
    DOCUMENT_ROOT: input.documentRoot,
    QUERY_STRING: input.queryString,
    // No DNS lookup (IIS's EnableReverseDNS is off by default): REMOTE_HOST is the address, as RFC 3875 §4.1.9 allows.
    REMOTE_ADDR: input.remoteAddress,
    REMOTE_HOST: input.remoteAddress,
    REMOTE_PORT: String(input.remotePort),
    // IIS sets these, empty, for anonymous requests, where RFC 3875 would leave them unset; scripts written for IIS
    // test them for '' and PHP shows them either way.
    AUTH_TYPE: input.authType,
    REMOTE_USER: input.userName,
    AUTH_USER: input.userName,
    LOGON_USER: input.logonUser,
    HTTPS: input.secure ? 'on' : 'off',
    // php-cgi refuses to run a script it was not sent by a server (cgi.force_redirect) unless this is set.
    REDIRECT_STATUS: '200',
    PATH: CGI_PATH,
  };
  if (input.pathInfo !== '') {
    env['PATH_INFO'] = input.pathInfo;
    if (input.pathTranslated !== undefined) env['PATH_TRANSLATED'] = input.pathTranslated;
  }
  if (input.contentLength !== undefined && input.contentLength > 0) env['CONTENT_LENGTH'] = String(input.contentLength);
  if (input.contentType !== undefined) env['CONTENT_TYPE'] = input.contentType;
  // No header can overwrite a meta-variable: all of them start with HTTP_.
  for (const [name, value] of headerVariables(input.rawHeaders)) env[name] = value;
  // A value with NUL cannot be passed (a C string ends there): such a variable is left out, never cut short.
  for (const name in env) {
    if (env[name]!.includes('\0')) return withoutNul(env);
  }
  return env;
}

/** The rare environment with a NUL somewhere: the same variables, less those. */
function withoutNul(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => !value.includes('\0')));
}

/** HTTP_* variables: one per header name, repeated fields joined as HTTP joins them. */
function headerVariables(rawHeaders: readonly string[]): Map<string, string> {
  const variables = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!PASSABLE_NAME.test(name)) continue;
    const lower = name.toLowerCase();
    if (WITHHELD.has(lower)) continue;
    const variable = `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
    const value = headerValue(rawHeaders[i + 1]!);
    const previous = variables.get(variable);
    // RFC 9110 §5.3 joins repeated fields with ", "; Cookie is the exception (RFC 6265 §5.4: "; "), and PHP would
    // otherwise read "a=1, b=2" as one cookie named a.
    variables.set(variable, previous === undefined ? value : `${previous}${lower === 'cookie' ? '; ' : ', '}${value}`);
  }
  return variables;
}

/**
 * Node hands header bytes over as latin1 characters, and spawn encodes environment strings as UTF-8: without this,
 * a UTF-8 header value would reach the script double-encoded. Bytes that are not UTF-8 become U+FFFD.
 */
function headerValue(latin1: string): string {
  // Pure ASCII, the common case, is the same in both encodings.
  if (!/[^\x00-\x7f]/.test(latin1)) return latin1;
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
