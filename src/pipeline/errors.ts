/**
 * Errors are values: every stage that refuses a request returns one of these instead of throwing.
 * `reason` is the detailed, operator-facing explanation; it reaches the client only for requests from
 * loopback (IIS "DetailedLocalOnly"). `win32Status` is what IIS writes in `sc-win32-status`.
 */
export interface HttpError {
  readonly kind: 'error';
  readonly status: number;
  readonly substatus: number;
  readonly win32Status: number;
  readonly reason: string;
  /** Extra response headers the refusal needs (Allow, Content-Range, WWW-Authenticate…). */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * A failed logon's reason as the audit log records it (NTSTATUS and why: wrong password, unknown user, disabled,
   * locked out, logon type not granted, NTLMv1 refused…). For the server's own trace only: never in a response, where
   * it would tell a client which part of a logon was wrong (MODEL.md §3).
   */
  readonly logonFailure?: string;
}

/** The refusal, carrying the audit log's reason for the trace (see HttpError.logonFailure). */
export function withLogonFailure(error: HttpError, failure: { readonly status: string; readonly subStatus: string; readonly reason: string }): HttpError {
  const sub = failure.subStatus === 'STATUS_SUCCESS' ? '' : `/${failure.subStatus}`;
  return { ...error, logonFailure: `${failure.status}${sub}: ${failure.reason}` };
}

/** Win32 codes IIS logs for the refusals we reproduce. */
export const Win32 = {
  SUCCESS: 0,
  FILE_NOT_FOUND: 2,
  PATH_NOT_FOUND: 3,
  ACCESS_DENIED: 5,
  INVALID_PARAMETER: 87,
  BAD_PATHNAME: 161,
  LOGON_FAILURE: 1326,
  NO_CREDENTIALS: 0x8009030e,
} as const;

export function httpError(
  status: number,
  substatus: number,
  reason: string,
  win32Status: number = defaultWin32(status),
  headers?: HttpError['headers'],
): HttpError {
  return headers ? { kind: 'error', status, substatus, win32Status, reason, headers } : { kind: 'error', status, substatus, win32Status, reason };
}

export function isHttpError(value: unknown): value is HttpError {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'error';
}

function defaultWin32(status: number): number {
  if (status === 404) return Win32.FILE_NOT_FOUND;
  if (status === 401 || status === 403) return Win32.ACCESS_DENIED;
  return Win32.SUCCESS;
}

/** `404.11`, or `404` when there is no substatus. */
export function statusLabel(status: number, substatus: number): string {
  return substatus ? `${status}.${substatus}` : String(status);
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? 'Error';
}

/**
 * The public, generic description of each status.substatus, as IIS shows it to remote clients.
 * It never says more than the code itself does; the detailed `reason` is for loopback and logs.
 */
const DESCRIPTIONS: Record<string, string> = {
  '400': 'The request could not be understood by the server.',
  '401.1': 'You do not have permission to view this directory or page using the credentials that you supplied.',
  '401.2': 'You are not authorized to view this page due to the server configuration or the authentication method.',
  '401.3': 'You do not have permission to view this directory or page because of the access control list (ACL).',
  '401.4': 'Authorization failed by a filter installed on the Web server.',
  '401.5': 'Authorization failed by an application installed on the Web server.',
  '403': 'You do not have permission to view this directory or page.',
  '403.1': 'Execute access is forbidden for this directory.',
  '403.2': 'Read access is forbidden for this directory.',
  '403.3': 'Write access is forbidden for this directory.',
  '403.4': 'The page must be viewed over a secure channel.',
  '403.14': 'The Web server is configured to not list the contents of this directory.',
  '403.19': 'Cannot execute CGI applications for the client in this application pool.',
  '404': 'The resource you are looking for has been removed, had its name changed, or is temporarily unavailable.',
  '404.1': 'No Web site is configured at this address and host name.',
  '404.3': 'The page you are requesting cannot be served because of the extension configuration (MIME map).',
  '404.5': 'The request filtering module is configured to deny a URL sequence in this request.',
  '404.6': 'The request filtering module is configured to deny this HTTP verb.',
  '404.7': 'The request filtering module is configured to deny the file extension.',
  '404.8': 'The request filtering module is configured to deny a path in the URL that contains a hiddenSegment section.',
  '404.11': 'The request filtering module is configured to deny a request that contains a double escape sequence.',
  '404.12': 'The request filtering module is configured to deny a request that contains high bit characters.',
  '404.14': 'The request filtering module is configured to deny a request that exceeds the request URL length limit.',
  '404.15': 'The request filtering module is configured to deny a request where the query string is too long.',
  '405': 'The HTTP verb used to access this page is not allowed.',
  '412': 'A precondition given in the request evaluated to false.',
  '413.1': 'The request filtering module is configured to deny a request that exceeds the request content length.',
  '416': 'The requested range cannot be satisfied.',
  '431': 'The request filtering module is configured to deny a request whose headers exceed the limit.',
  '500': 'The server encountered an internal error and could not complete the request.',
  '500.19': 'The requested page cannot be accessed because the related configuration data for the page is invalid.',
  '501': 'The server does not support the functionality required to fulfill the request.',
  '502': 'Web server received an invalid response while acting as a gateway or proxy server.',
  '502.1': 'The CGI application exceeded its time limit and was stopped.',
  '502.2': 'The specified CGI application misbehaved by not returning a complete set of HTTP headers.',
  '503': 'The service is unavailable.',
};

export function describe(status: number, substatus: number): string {
  return DESCRIPTIONS[statusLabel(status, substatus)] ?? DESCRIPTIONS[String(status)] ?? reasonPhrase(status);
}
