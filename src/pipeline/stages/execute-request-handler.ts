/**
 * Stage `executeRequestHandler`: run the mapped handler. Static files and listings are read by the process (the
 * identity rule for static content, MODEL.md §1: access was checked with the request's identity, bytes are read by
 * the worker). Returns an HttpError when the handler refuses (405, 412, 416), after which nothing was written.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile } from '../../handlers/static/serve.js';
import { serveListing } from '../../handlers/static/listing.js';
import type { FileCache } from '../../handlers/static/file-cache.js';
import type { HttpError } from '../errors.js';
import type { HandlerMapping } from './map-request-handler.js';

export function executeRequestHandler(req: IncomingMessage, res: ServerResponse, handler: HandlerMapping, cache: FileCache): Promise<HttpError | null> | null {
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
