/**
 * The RFC 3875 environment of one request, for the CGI handler and the FastCGI PARAMS alike: what the pipeline knows
 * (connection, target, token, mapped script) turned into cgiEnvironment's input.
 */
import path from 'node:path';
import type { RequestContext } from '../../pipeline/context.js';
import { hostName } from '../../server/site-selection.js';
import { isAnonymousToken, type Token } from '../../security/token.js';
import { VERSION } from '../../version.js';
import { cgiEnvironment, type CgiAuthType } from './environment.js';

const AUTH_TYPES: Partial<Record<Token['authPackage'], CgiAuthType>> = { Basic: 'Basic', NTLM: 'NTLM', Digest: 'Digest', Kerberos: 'Negotiate' };

/** The parts of a CGI or FastCGI mapping the environment needs. */
export interface MappedScript {
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly documentRoot: string;
  readonly script: { readonly realPath: string };
}

export function requestCgiEnvironment(ctx: Pick<RequestContext, 'req' | 'connection'>, mapped: MappedScript, token: Token): Record<string, string> {
  const { req, connection } = ctx;
  const anonymous = isAnonymousToken(token);
  const userName = anonymous ? '' : token.user.name;
  const pathInfo = mapped.pathInfo;
  const contentLength = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return cgiEnvironment({
    method: req.method ?? 'GET',
    httpVersion: req.httpVersion,
    rawHeaders: req.rawHeaders,
    scriptName: mapped.scriptName,
    pathInfo,
    pathTranslated: pathInfo ? path.join(mapped.documentRoot, ...pathInfo.split('/').filter(Boolean)) : undefined,
    queryString: q >= 0 ? url.slice(q + 1) : '',
    requestUri: url,
    scriptFilename: mapped.script.realPath,
    documentRoot: mapped.documentRoot,
    serverName: hostName(req.headers.host) || connection.localAddress,
    serverPort: connection.localPort,
    serverAddress: connection.localAddress,
    remoteAddress: connection.remoteAddress,
    remotePort: connection.remotePort,
    secure: connection.secure,
    authType: anonymous ? '' : (AUTH_TYPES[token.authPackage] ?? ''),
    userName,
    logonUser: userName,
    contentLength: Number.isFinite(contentLength) ? contentLength : undefined,
    contentType: req.headers['content-type'],
    serverSoftware: `Persona/${VERSION}`,
  });
}
