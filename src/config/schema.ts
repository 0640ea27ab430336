/**
 * The configuration schema: the single source of truth for the YAML file's shape, the TypeScript types
 * the server uses, and the JSON Schema shipped in schema/persona.schema.json for editors.
 *
 * Two kinds of property live here:
 * - structural ones (server, sites, bindings, applications, virtual directories), set once where they stand;
 * - `settings`, the inheritable property bag of IIS's metabase. The same bag may be set at the server
 *   (`defaults`), a site, an application, a virtual directory and a location. For one URL, the effective value
 *   of each leaf property comes from the deepest level that sets it (see inherit.ts). Objects with named
 *   properties and dictionaries (mimeMap, customErrors) inherit key by key; arrays are single values.
 *
 * Later issues add their sections (authentication, cgi, identity…) to `Settings` and nowhere else.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DIGEST_ALGORITHMS, type DigestAlgorithm } from '../auth/digest/algorithms.js';

const strict = { additionalProperties: false } as const;
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const NonEmpty = Type.String({ minLength: 1 });

export const ACCESS_FLAGS = ['read', 'write', 'script', 'execute', 'source', 'browse'] as const;
export type AccessFlag = (typeof ACCESS_FLAGS)[number];

const AccessFlagsSchema = Type.Array(Type.Union(ACCESS_FLAGS.map((f) => Type.Literal(f))), {
  uniqueItems: true,
  description: 'IIS AccessFlags: what requests under this path may do. Checked before ACLs (403.1 execute, 403.2 read, 403.3 write, 403.14 listing).',
});

const ExtensionList = Type.Array(Type.String({ pattern: '^\\.[^/\\\\]*$' }), {
  description: 'File extensions with their leading dot, compared case-insensitively.',
});

const RequestFilteringSchema = Type.Object(
  {
    allowDoubleEscaping: Type.Boolean({ description: 'false: a path that still holds a %XX escape after one decoding is refused with 404.11.' }),
    allowHighBitCharacters: Type.Boolean({ description: 'false: bytes ≥ 0x80 in the URL are refused with 404.12.' }),
    hiddenSegments: Type.Array(NonEmpty, { description: 'Path segments never served (404.8), compared case-insensitively.' }),
    denyUrlSequences: Type.Array(NonEmpty, { description: 'Substrings of the decoded URL that are refused with 404.5.' }),
    fileExtensions: Type.Object(
      {
        allowUnlisted: Type.Boolean(),
        allow: ExtensionList,
        deny: ExtensionList,
      },
      { ...strict, description: 'Extension rules (404.7).' },
    ),
    verbs: Type.Object(
      {
        allowUnlisted: Type.Boolean(),
        allow: Type.Array(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' })),
        deny: Type.Array(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' })),
      },
      { ...strict, description: 'Verb rules (404.6).' },
    ),
    maxAllowedContentLength: Type.Integer({ minimum: 0, description: 'Largest request body in bytes (413.1).' }),
    maxUrl: Type.Integer({ minimum: 1, description: 'Longest URL path in bytes, as received (404.14).' }),
    maxQueryString: Type.Integer({ minimum: 0, description: 'Longest query string in bytes, as received (404.15).' }),
    headerLimits: Type.Record(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' }), Type.Integer({ minimum: 0 }), {
      description: 'Largest value in bytes per header name (431).',
    }),
  },
  { ...strict, description: 'IIS request filtering (stage beginRequest).' },
);

const DefaultDocumentSchema = Type.Object(
  {
    enabled: Type.Boolean(),
    files: Type.Array(NonEmpty, { description: 'Tried in order when a folder is requested.' }),
  },
  strict,
);

const StaticContentSchema = Type.Object(
  {
    mimeMap: Type.Record(Type.String({ pattern: '^\\.[^/\\\\]*$' }), Type.String({ pattern: '^$|^[^\\s/]+/[^\\s]+$' }), {
      description: 'Extension → Content-Type. Files whose extension is not mapped are refused with 404.3, as IIS does. An empty string removes an inherited mapping.',
    }),
    clientCacheMaxAge: Type.Integer({ minimum: 0, description: 'Cache-Control max-age in seconds; 0 sends no Cache-Control.' }),
    enableETag: Type.Boolean(),
  },
  strict,
);

const HttpErrorsSchema = Type.Object(
  {
    errorMode: Type.Union([Type.Literal('DetailedLocalOnly'), Type.Literal('Detailed'), Type.Literal('Custom')], {
      description: 'DetailedLocalOnly (default): reasons only for loopback clients.',
    }),
    pages: Type.Record(Type.String({ pattern: '^[45][0-9][0-9](\\.[0-9]+)?$' }), NonEmpty, {
      description: 'status or status.substatus → an HTML file (absolute, or relative to the configuration file) sent instead of the built-in page.',
    }),
  },
  strict,
);

const LogonMethodSchema = Type.Union([Type.Literal('Interactive'), Type.Literal('Batch'), Type.Literal('Network'), Type.Literal('ClearText')], {
  description: 'IIS logonMethod: the logon type of the token (Interactive, Batch, Network, ClearText = network logon that keeps the password for delegation).',
});

export const AUTH_SCHEMES = ['Negotiate', 'NTLM', 'Digest', 'Basic'] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

const AuthenticationSchema = Type.Object(
  {
    order: Type.Array(Type.Union(AUTH_SCHEMES.map((s) => Type.Literal(s))), {
      uniqueItems: true,
      description: 'Order of the WWW-Authenticate challenges (one line per enabled scheme). Default: Negotiate, NTLM, Digest, Basic.',
    }),
    anonymous: Type.Partial(
      Type.Object(
        {
          enabled: Type.Boolean(),
          userName: Type.String({ description: 'The anonymous account: IUSR (default, the built-in account), a local account (with password), or "" for the process identity.' }),
          password: Type.String({ description: 'Password of the anonymous account when it is a local account.' }),
          logonMethod: LogonMethodSchema,
          passwordSync: Type.Boolean({ description: 'IIS 4/5 password synchronisation: a network token without delegable credentials, no password needed.' }),
        },
        strict,
      ),
      strict,
    ),
    basic: Type.Partial(
      Type.Object(
        {
          enabled: Type.Boolean(),
          realm: Type.String(),
          defaultLogonDomain: Type.String({ description: 'Domain for user names given without one; "" = this machine.' }),
          logonMethod: LogonMethodSchema,
          allowCleartext: Type.Boolean({ description: 'Accept Basic over plain HTTP from remote clients (passwords travel in clear). Default false: HTTPS or loopback only.' }),
        },
        strict,
      ),
      strict,
    ),
    ntlm: Type.Partial(
      Type.Object(
        {
          enabled: Type.Boolean({ description: 'NTLM (MS-NLMP) challenge/response, verified by Persona against the NT hash of local accounts with NTLM enabled.' }),
          authPersistSingleRequest: Type.Boolean({
            description: 'Re-authenticate every request instead of keeping the token on the keep-alive connection (IIS authPersistSingleRequest). Default false.',
          }),
          allowNtlmv1: Type.Boolean({
            description: 'Accept NTLMv1 responses (DES over the NT hash: crackable from a captured exchange). Default false: only NTLMv2.',
          }),
          allowAnonymous: Type.Boolean({ description: 'Map an NTLM anonymous logon (empty user and response) to NT AUTHORITY\\ANONYMOUS LOGON. Default false: 401.1.' }),
          tokenChecking: Type.Union([Type.Literal('None'), Type.Literal('Allow'), Type.Literal('Require')], {
            description:
              'Extended Protection (IIS extendedProtection tokenChecking): channel bindings to the TLS certificate, service binding to the host over HTTP. ' +
              'None ignores them; Allow checks them when the client sends them; Require refuses clients that do not. Default None.',
          }),
          maxClockSkew: Type.Integer({ minimum: 1, maximum: 129600, description: 'Seconds an NTLMv2 client timestamp may differ from this server\'s clock. Default 300.' }),
        },
        strict,
      ),
      strict,
    ),
    digest: Type.Partial(
      Type.Object(
        {
          enabled: Type.Boolean({
            description:
              'Digest (RFC 7616, RFC 2617), verified against the H(user:realm:password) verifiers of local accounts with Digest enabled (password-equivalent, written when the password is set).',
          }),
          realm: Type.String({
            description:
              'The realm. Part of every stored verifier: changing it means setting the passwords again. "" = this machine\'s name (IIS sends its computer name when no realm is set).',
          }),
          algorithms: Type.Array(Type.Union(DIGEST_ALGORITHMS.map((a) => Type.Literal(a))), {
            uniqueItems: true,
            minItems: 1,
            description: 'Algorithms offered, one challenge line each, always sent strongest first (SHA-512-256, SHA-256, MD5; -sess after each). Default SHA-256, MD5.',
          }),
          qop: Type.Array(Type.Union([Type.Literal('auth'), Type.Literal('auth-int')]), {
            uniqueItems: true,
            minItems: 1,
            description: 'Quality of protection offered: auth, and auth-int (also covers the request body, which is then read before authentication). Default auth.',
          }),
          userhash: Type.Boolean({ description: 'Ask clients to send H(user:realm) instead of the user name (RFC 7616 §3.4.4). Default false.' }),
          nonceLifetime: Type.Integer({
            minimum: 1,
            maximum: 86_400,
            description: 'Seconds a nonce stays valid; after that the client gets a new one with stale=true (no new password prompt). Default 300.',
          }),
          allowNoQop: Type.Boolean({
            description: 'Accept MD5 credentials without qop (RFC 2069 clients; no client nonce, weaker against chosen-plaintext). Default false.',
          }),
        },
        strict,
      ),
      strict,
    ),
  },
  strict,
);

/**
 * Handler mappings (IIS <handlers>): the first whose `path` matches the file name serves the request; none → the
 * static file handler. A level that sets `handlers` replaces the inherited list (write the ones you keep).
 */
const HandlerSchema = Type.Object(
  {
    name: NonEmpty,
    path: Type.String({
      pattern: '^(\\*|\\*\\.[^/*]+|[^/*]+)$',
      description: 'What the last URL segment must be: "*" (any file), "*.ext" (an extension), or an exact file name.',
    }),
    kind: Type.Union([Type.Literal('cgi'), Type.Literal('module'), Type.Literal('fastcgi')], {
      description:
        'cgi: run the file (or scriptProcessor with the file) as a CGI program (RFC 3875); module: a JS handler module serves it in process, impersonating (see `identity`); ' +
        'fastcgi: a FastCGI application (scriptProcessor, defined in server.fastCgi) serves it (see `fastcgi.impersonate`).',
    }),
    module: Type.Optional(Type.String({ minLength: 1, description: 'kind module: the ES module (absolute, or relative to the configuration file) whose default export serves the requests.' })),
    resourceType: Type.Optional(
      Type.Union([Type.Literal('File'), Type.Literal('Unspecified')], {
        description: 'File (default): the matched URL must be an existing file; Unspecified: any URL matching `path` (e.g. an API served by a module).',
      }),
    ),
    scriptProcessor: Type.Optional(
      Type.String({ pattern: '^/', description: 'An interpreter to run the script with (e.g. /usr/bin/perl): then the script needs `script` access, not `execute`.' }),
    ),
    verbs: Type.Optional(Type.Array(NonEmpty, { uniqueItems: true, description: 'Methods the mapping serves; default all.' })),
  },
  strict,
);
export type HandlerInput = Static<typeof HandlerSchema>;

const CgiSchema = Type.Object(
  {
    createProcessAsUser: Type.Boolean({
      description: "Run CGI programs as the request token's OS account (default true, as IIS); false runs them as the application pool's account.",
    }),
    timeout: Type.Integer({ minimum: 1, maximum: 86_400, description: 'Seconds a CGI program may run; then it and every process it started are killed and the request gets 502.1. Default 900 (IIS 7+).' }),
  },
  strict,
);

const FastCgiSettingsSchema = Type.Object(
  {
    impersonate: Type.Boolean({
      description:
        "true: the request runs in a FastCGI process of the authenticated identity's OS account (a pool per account, like PHP's fastcgi.impersonate); false (default): in the application pool account's processes.",
    }),
  },
  strict,
);

const IdentitySchema = Type.Object(
  {
    impersonate: Type.Boolean({ description: 'JS handler modules run impersonating the request token (default true, as ASP.NET <identity impersonate>); false runs them as the process identity.' }),
    userName: Type.String({ description: 'A fixed account the modules impersonate instead (with password), as ASP.NET <identity userName>; "" = none.' }),
    password: Type.String(),
  },
  strict,
);

const TraceSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Record a per-request trace of every pipeline decision (off by default).' }),
  },
  strict,
);

export const SettingsSchema = Type.Partial(
  Type.Object(
    {
      accessFlags: AccessFlagsSchema,
      defaultDocument: Type.Partial(DefaultDocumentSchema),
      staticContent: Type.Partial(StaticContentSchema),
      requestFiltering: Type.Partial(RequestFilteringSchema),
      httpErrors: Type.Partial(HttpErrorsSchema),
      trace: Type.Partial(TraceSchema),
      authentication: Type.Partial(AuthenticationSchema),
      handlers: Type.Array(HandlerSchema, { description: 'Handler mappings, first match wins; static files when none matches. Replaces the inherited list.' }),
      cgi: Type.Partial(CgiSchema),
      identity: Type.Partial(IdentitySchema),
      fastcgi: Type.Partial(FastCgiSettingsSchema),
    },
    strict,
  ),
  { ...strict, description: 'Inheritable settings: the nearest level that sets a property wins.' },
);
export type SettingsInput = Static<typeof SettingsSchema>;

/** The effective settings for one URL: every property has a value. */
export interface Settings {
  accessFlags: AccessFlag[];
  defaultDocument: Static<typeof DefaultDocumentSchema>;
  staticContent: Static<typeof StaticContentSchema>;
  requestFiltering: Static<typeof RequestFilteringSchema>;
  httpErrors: Static<typeof HttpErrorsSchema>;
  trace: Static<typeof TraceSchema>;
  authentication: AuthenticationSettings;
  handlers: HandlerInput[];
  cgi: Static<typeof CgiSchema>;
  identity: Static<typeof IdentitySchema>;
  fastcgi: Static<typeof FastCgiSettingsSchema>;
}

export interface AuthenticationSettings {
  order: AuthScheme[];
  anonymous: { enabled: boolean; userName: string; password: string; logonMethod: Static<typeof LogonMethodSchema>; passwordSync: boolean };
  basic: { enabled: boolean; realm: string; defaultLogonDomain: string; logonMethod: Static<typeof LogonMethodSchema>; allowCleartext: boolean };
  ntlm: NtlmSettings;
  digest: DigestSettings;
}

export type TokenChecking = 'None' | 'Allow' | 'Require';
export interface NtlmSettings {
  enabled: boolean;
  authPersistSingleRequest: boolean;
  allowNtlmv1: boolean;
  allowAnonymous: boolean;
  tokenChecking: TokenChecking;
  maxClockSkew: number;
}

export interface DigestSettings {
  enabled: boolean;
  realm: string;
  algorithms: DigestAlgorithm[];
  qop: ('auth' | 'auth-int')[];
  userhash: boolean;
  nonceLifetime: number;
  allowNoQop: boolean;
}

const BindingSchema = Type.Object(
  {
    protocol: Type.Union([Type.Literal('http'), Type.Literal('https')]),
    ip: Type.String({ description: 'An IPv4 or IPv6 address, or "*" for all addresses.', minLength: 1 }),
    port: Port,
    host: Type.Optional(Type.String({ description: 'Host header to match; empty or absent matches any host not claimed by another binding.' })),
  },
  strict,
);
export type Binding = Static<typeof BindingSchema>;

const VirtualDirectorySchema = Type.Object(
  {
    path: Type.String({ pattern: '^/', description: "URL path: from the site root for a site's virtual directories, from the application for an application's (as in IIS)." }),
    physicalPath: NonEmpty,
    settings: Type.Optional(SettingsSchema),
  },
  strict,
);

const ApplicationSchema = Type.Object(
  {
    path: Type.String({ pattern: '^/', description: 'URL path, from the site root.' }),
    physicalPath: Type.Optional(NonEmpty),
    applicationPool: Type.Optional(NonEmpty),
    settings: Type.Optional(SettingsSchema),
    virtualDirectories: Type.Optional(Type.Array(VirtualDirectorySchema)),
  },
  strict,
);

const LocationSchema = Type.Object(
  {
    path: Type.String({ pattern: '^/', description: 'A folder or file URL path, from the site root.' }),
    settings: SettingsSchema,
  },
  strict,
);

const SiteSchema = Type.Object(
  {
    name: NonEmpty,
    id: Type.Optional(Type.Integer({ minimum: 1, description: 'IIS site id; names the W3C log folder W3SVC<id>.' })),
    bindings: Type.Array(BindingSchema, { minItems: 1 }),
    tls: Type.Optional(
      Type.Object({ certificate: NonEmpty, key: NonEmpty }, { ...strict, description: 'PEM files, absolute or relative to the configuration file.' }),
    ),
    physicalPath: Type.String({ minLength: 1, description: 'The web root.' }),
    settings: Type.Optional(SettingsSchema),
    applications: Type.Optional(Type.Array(ApplicationSchema)),
    virtualDirectories: Type.Optional(Type.Array(VirtualDirectorySchema)),
    locations: Type.Optional(Type.Array(LocationSchema)),
  },
  strict,
);
export type SiteInput = Static<typeof SiteSchema>;

export const W3C_FIELDS = [
  'date', 'time', 's-sitename', 's-computername', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port',
  'cs-username', 'c-ip', 'cs-version', 'cs(User-Agent)', 'cs(Cookie)', 'cs(Referer)', 'cs-host', 'sc-status',
  'sc-substatus', 'sc-win32-status', 'sc-bytes', 'cs-bytes', 'time-taken', 'x-trace-id',
] as const;
export type W3cField = (typeof W3C_FIELDS)[number];

const ServerSchema = Type.Object(
  {
    logging: Type.Optional(
      Type.Object(
        {
          directory: Type.Optional(NonEmpty),
          w3c: Type.Optional(
            Type.Object(
              {
                enabled: Type.Optional(Type.Boolean()),
                fields: Type.Optional(Type.Array(Type.Union(W3C_FIELDS.map((f) => Type.Literal(f))), { uniqueItems: true, minItems: 1 })),
                period: Type.Optional(Type.Union([Type.Literal('daily'), Type.Literal('hourly')])),
              },
              strict,
            ),
          ),
          level: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => Type.Literal(l)))),
        },
        strict,
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          keepAliveTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, description: 'Idle keep-alive connections are closed after this (IIS connectionTimeout 120 s).' })),
          headersTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
          requestTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
          maxRequestHeaderBytes: Type.Optional(Type.Integer({ minimum: 1024, description: 'All request headers together; beyond it the connection gets 431.' })),
          maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        strict,
      ),
    ),
    fileCache: Type.Optional(
      Type.Object(
        {
          ttlMilliseconds: Type.Optional(Type.Integer({ minimum: 0, description: 'How long a stat/realpath result is trusted; 0 disables the cache.' })),
          maxFileBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Files up to this size are kept in memory.' })),
          maxEntries: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        strict,
      ),
    ),
    security: Type.Optional(
      Type.Object(
        {
          accountsDatabase: Type.Optional(Type.String({ minLength: 1, description: 'The SQLite account store (users, groups, rights, ACLs). Default: <home>/accounts.db.' })),
          userTokenTTL: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds a token from a password logon is reused for the same credentials (IIS UserTokenTTL, default 900; 0 disables the cache).' })),
          auditLog: Type.Optional(Type.String({ minLength: 1, description: 'Audit log file (JSON lines). Default: <logs>/audit.log.' })),
          passwordHash: Type.Optional(
            Type.Union([Type.Literal('scrypt'), Type.Literal('argon2id')], { description: 'Slow hash for passwords set from now on (scrypt by default). Existing hashes keep verifying.' }),
          ),
        },
        strict,
      ),
    ),
    applicationPools: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: NonEmpty,
            identity: Type.Optional(
              Type.String({ minLength: 1, description: "The OS account the pool's worker runs as when Persona starts as root (default www-data). Never root." }),
            ),
            replaceProcessToken: Type.Optional(
              Type.Boolean({
                description:
                  'IIS "Replace a process level token" (SeAssignPrimaryTokenPrivilege): the pool may start processes as other accounts (CGI as the user). Default true, as IIS pools; false → CGI as the user is 403.19.',
              }),
            ),
          },
          strict,
        ),
        { description: 'Application pools (IIS applicationPools). DefaultAppPool exists even when not listed.' },
      ),
    ),
    fastCgi: Type.Optional(
      Type.Array(
        Type.Object(
          {
            fullPath: Type.String({ pattern: '^/', description: 'The FastCGI program (e.g. /usr/bin/php-cgi); handlers name it as scriptProcessor.' }),
            arguments: Type.Optional(Type.Array(Type.String(), { description: 'Arguments before Persona adds its own (-b <socket> for php-cgi).' })),
            maxInstances: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'Processes per pool (per OS account). Default 4.' })),
            queueLength: Type.Optional(Type.Integer({ minimum: 0, description: 'Requests waiting for a free process before 503.4. Default 1000 (IIS).' })),
            requestTimeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds a request may take. Default 90 (IIS).' })),
            activityTimeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds without any output before the process is killed. Default 30 (IIS 7.0).' })),
            idleTimeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds an idle process is kept. Default 300 (IIS).' })),
            instanceMaxRequests: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests a process serves before it is recycled. Default 200 (IIS).' })),
            environment: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), { description: 'Extra environment variables for the processes.' })),
          },
          strict,
        ),
        { description: 'FastCGI applications (IIS <fastCgi><application>).' },
      ),
    ),
    diagnostics: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ description: 'Serve the diagnostic endpoint (traces as JSON) to loopback clients only; others get 404. Default false.' })),
          path: Type.Optional(
            Type.String({ pattern: '^/([A-Za-z0-9._~-]+/)+$', description: "URL prefix of the endpoint, on every site: <path>traces and <path>trace/<id>. Default '/_persona/'." }),
          ),
        },
        { ...strict, description: 'The loopback-only diagnostic endpoint (docs/TRACING.md).' },
      ),
    ),
    filters: Type.Optional(
      Type.Array(
        Type.Object({ name: NonEmpty, module: NonEmpty }, { ...strict, description: 'A filter module, absolute or relative to the configuration file. Filters run as the process identity.' }),
      ),
    ),
  },
  strict,
);

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    server: Type.Optional(ServerSchema),
    defaults: Type.Optional(SettingsSchema),
    sites: Type.Array(SiteSchema, { minItems: 1 }),
  },
  { ...strict, $id: 'https://persona.invalid/schema/persona.schema.json', title: 'Persona configuration' },
);
export type ConfigInput = Static<typeof ConfigSchema>;

/** Built-in values at the root of the inheritance chain (IIS applicationHost defaults, adjusted where noted). */
export const BUILTIN_SETTINGS: Settings = {
  accessFlags: ['read', 'script'],
  defaultDocument: { enabled: true, files: ['index.html', 'index.htm', 'default.htm', 'default.html'] },
  staticContent: { mimeMap: {}, clientCacheMaxAge: 0, enableETag: true },
  requestFiltering: {
    allowDoubleEscaping: false,
    allowHighBitCharacters: true,
    // IIS hides ASP.NET folders; on Linux the dangerous ones are VCS metadata and server secrets.
    hiddenSegments: ['.git', '.svn', '.hg', '.env', '.htaccess', '.htpasswd', 'web.config', 'persona.yaml'],
    denyUrlSequences: [],
    fileExtensions: { allowUnlisted: true, allow: [], deny: [] },
    verbs: { allowUnlisted: true, allow: [], deny: [] },
    maxAllowedContentLength: 30_000_000,
    maxUrl: 4096,
    maxQueryString: 2048,
    headerLimits: {},
  },
  httpErrors: { errorMode: 'DetailedLocalOnly', pages: {} },
  trace: { enabled: false },
  authentication: {
    order: ['Negotiate', 'NTLM', 'Digest', 'Basic'],
    anonymous: { enabled: true, userName: 'IUSR', password: '', logonMethod: 'ClearText', passwordSync: false },
    basic: { enabled: false, realm: '', defaultLogonDomain: '', logonMethod: 'ClearText', allowCleartext: false },
    ntlm: { enabled: false, authPersistSingleRequest: false, allowNtlmv1: false, allowAnonymous: false, tokenChecking: 'None', maxClockSkew: 300 },
    digest: { enabled: false, realm: '', algorithms: ['SHA-256', 'MD5'], qop: ['auth'], userhash: false, nonceLifetime: 300, allowNoQop: false },
  },
  handlers: [],
  cgi: { createProcessAsUser: true, timeout: 900 },
  identity: { impersonate: true, userName: '', password: '' },
  fastcgi: { impersonate: false },
};

/** Sections whose values are dictionaries: inherited key by key rather than as one value. */
export const DICTIONARY_PATHS: ReadonlySet<string> = new Set([
  'staticContent.mimeMap',
  'httpErrors.pages',
  'requestFiltering.headerLimits',
]);

export function jsonSchema(): TSchema {
  return ConfigSchema;
}
