/**
 * What CGI programs and FastCGI applications have in common once their head is parsed: the body goes to the client
 * held to the Content-Length the program declared, at the pace the client reads it; and what they print on stderr
 * is kept, bounded, for the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import { displayable, writeCgiHead, type CgiHead } from './response.js';

/** Bytes of stderr kept for the log per request; the rest is counted, not kept. */
export const STDERR_LIMIT = 8 * 1024;

/** Pauses and resumes whatever produces the body (the script's stdout, the FastCGI connection). */
export interface Flow {
  pause(): void;
  resume(): void;
}

export class BodyWriter {
  private sent = 0;

  constructor(
    private readonly res: ServerResponse,
    /** The Content-Length the program declared, if any. */
    private readonly declared: number | undefined,
    private readonly flow: Flow,
  ) {}

  /** One piece of the body, with back-pressure. */
  write(chunk: Buffer): void {
    const { res, declared } = this;
    if (res.destroyed) return;
    if (declared !== undefined) {
      // Bytes beyond the declared length would be read by the client as the start of the next response.
      if (this.sent >= declared) return;
      if (this.sent + chunk.length > declared) chunk = chunk.subarray(0, declared - this.sent);
    }
    this.sent += chunk.length;
    if (!res.write(chunk)) {
      this.flow.pause();
      res.once('drain', () => this.flow.resume());
    }
  }

  /**
   * Ends the response and calls `done` once it is sent. A body shorter than declared is not ended but cut (the client
   * would wait for the missing bytes, or take a short body for a whole one), and `done` gets the 502.2 saying so.
   */
  end(purpose: string, done: (result: HttpError | null) => void): void {
    if (this.declared !== undefined && this.sent < this.declared) {
      this.res.destroy();
      done(httpError(502, 2, `${purpose}: the program declared Content-Length ${this.declared} but wrote ${this.sent} bytes; the connection was closed.`));
      return;
    }
    this.res.end();
    this.res.once('finish', () => done(null));
  }
}

/** stderr, kept up to STDERR_LIMIT bytes. */
export class StderrCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  push(chunk: Buffer): void {
    const room = STDERR_LIMIT - this.kept;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, Math.max(0, room));
    if (part.length > 0) this.chunks.push(part);
    this.kept += part.length;
    this.dropped += chunk.length - part.length;
  }

  /** What was printed, for the log; undefined when nothing was. */
  text(): string | undefined {
    if (this.kept === 0) return undefined;
    const text = displayable(Buffer.concat(this.chunks, this.kept));
    return this.dropped > 0 ? `${text}… (${this.dropped} more bytes not kept)` : text;
  }
}

/**
 * Sends a parsed head. For a HEAD request the response ends there (what the program still prints is to be read and
 * dropped, so that it can finish) and `done` is called once it is sent; otherwise the body writer is returned, with
 * the bytes that came with the head already written.
 */
export function sendCgiHead(req: IncomingMessage, res: ServerResponse, head: CgiHead, flow: Flow, done: (result: null) => void): BodyWriter | undefined {
  writeCgiHead(res, head);
  if (req.method === 'HEAD') {
    res.end();
    res.once('finish', () => done(null));
    return undefined;
  }
  const body = new BodyWriter(res, head.contentLength, flow);
  if (head.bodyStart.length > 0) body.write(head.bodyStart);
  return body;
}
