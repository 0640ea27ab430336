/**
 * Request bodies the handler does not want (a static file, a listing). Bodies announced with Content-Length were
 * checked against maxAllowedContentLength in beginRequest; a chunked body announces nothing, so it is read and
 * counted here, before the handler answers, and refused with 413.1 once it passes the limit — instead of being
 * drained silently after the response, for as long as the client cares to send.
 */
import type { IncomingMessage } from 'node:http';
import type { Settings } from '../config/schema.js';
import { bodyLimitExceeded } from '../filtering/request-filter.js';
import type { HttpError } from './errors.js';

/**
 * Whether a request carries a body (RFC 9112 §6.3: exactly when it has Transfer-Encoding or a Content-Length; a
 * Content-Length of 0 is an empty one, treated as none). Asked before the body is read: by Digest (qop=auth-int
 * would have to hash it), by CGI (a script without one gets /dev/null as stdin) and by FastCGI (nothing to stream to the application).
 */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0' && Number(length) !== 0);
}

export function hasUnannouncedBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined && !req.complete;
}

export function discardBody(req: IncomingMessage, rules: Settings['requestFiltering']): Promise<HttpError | null> {
  return new Promise((resolve) => {
    let bytes = 0;
    const done = (result: HttpError | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      const refused = bodyLimitExceeded(bytes, rules);
      if (refused) {
        req.pause();
        done(refused);
      }
    };
    const onEnd = () => done(null);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onEnd);
  });
}
