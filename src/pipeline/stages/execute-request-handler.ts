/**
 * Stage `executeRequestHandler`: run the mapped handler under the identity rule of its kind (MODEL.md §1).
 * Static files and listings are read by the process (access was checked with the request's identity, bytes are
 * read by the worker). CGI programs run as the OS account cgi.createProcessAsUser chooses (handlers/cgi).
 * Returns an HttpError when the handler refuses before writing anything (405, 412, 416, 403.19, 502.x).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile } from '../../handlers/static/serve.js';
import { serveListing } from '../../handlers/static/listing.js';
import type { FileCache } from '../../handlers/static/file-cache.js';
import type { HttpError } from '../errors.js';
import type { HandlerMapping, StaticHandler } from './map-request-handler.js';

export function executeRequestHandler(req: IncomingMessage, res: ServerResponse, handler: StaticHandler, cache: FileCache): Promise<HttpError | null> | null {
  const mapping = handler.mapping;
  switch (mapping.kind) {
    case 'file':
      return serveFile(req, res, mapping, handler.target.settings);
    case 'listing':
      return serveListing(req, res, mapping, handler.target, cache);
    case 'redirect':
      res.writeHead(301, { Location: mapping.location, 'Content-Length': '0' });
      res.end();
      return null;
  }
}

export type { HandlerMapping };
