/**
 * The HTTP side of a FastCGI request: the request body goes out as STDIN, the STDOUT stream is a CGI response
 * (its head parsed by CgiHeadParser, exactly like a CGI program's output), the body streams to the client with
 * back-pressure, and the failures get IIS's statuses:
 *
 * - queue full → 503.4; the spawner refused the account → its status (403.19); a process that cannot start → 500;
 * - a head that is missing or bad → 502.2 with IIS's "misbehaved" text (as CGI);
 * - requestTimeout / activityTimeout / a crash / a protocol error → 500 with the reason when nothing was sent yet,
 *   else the connection is cut (a truncated response must not look complete);
 * - HEAD: the head is sent, the body is read and dropped; STDERR goes to `onStderr` (the log), never to the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import { MISBEHAVED, STDERR_LIMIT } from '../cgi/run.js';
import { CgiHeadParser, displayable, writeCgiHead, type CgiBadHead, type CgiHead } from '../cgi/response.js';
import type { FastCgiOutcome, FastCgiPool, FastCgiRequest } from './pool.js';

export interface RespondOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly pool: FastCgiPool;
  readonly params: Readonly<Record<string, string>>;
  /** For reasons: "FastCGI /index.php for MACHINE\\bob". */
  readonly purpose: string;
  readonly onStderr?: (text: string) => void;
}

export function respondFastCgi(options: RespondOptions): Promise<HttpError | null> {
  return new FastCgiResponse(options).done;
}

class FastCgiResponse {
  readonly done: Promise<HttpError | null>;
  private settle!: (result: HttpError | null) => void;
  /** 'head': nothing sent; 'body': streaming; 'discard': answered (HEAD, bad head), output dropped; 'over': settled. */
  private phase: 'head' | 'body' | 'discard' | 'over' = 'head';
  private readonly parser = new CgiHeadParser();
  private sent = 0;
  private declared: number | undefined;
  private readonly request: FastCgiRequest;
  private readonly stderr: Buffer[] = [];
  private stderrKept = 0;
  private stderrDropped = 0;

  constructor(private readonly options: RespondOptions) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    const { req, res } = options;
    const hasBody = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) > 0 : req.headers['transfer-encoding'] !== undefined;
    this.request = options.pool.request(options.params, hasBody ? req : undefined, {
      stdout: (chunk) => this.onOutput(chunk),
      stderr: (chunk) => this.onStderr(chunk),
    });
    res.on('close', () => {
      if (this.phase !== 'over' && !res.writableFinished) {
        this.request.abort();
        this.finish(null);
      }
    });
    void this.request.outcome.then((outcome) => this.onOutcome(outcome));
  }

  private finish(result: HttpError | null): void {
    if (this.phase === 'over') return;
    this.phase = 'over';
    this.settle(result);
  }

  private onStderr(chunk: Buffer): void {
    const room = STDERR_LIMIT - this.stderrKept;
    const part = chunk.subarray(0, Math.max(0, room));
    if (part.length > 0) this.stderr.push(part);
    this.stderrKept += part.length;
    this.stderrDropped += chunk.length - part.length;
  }

  private reportStderr(): void {
    if (this.stderrKept === 0) return;
    const text = displayable(Buffer.concat(this.stderr));
    this.options.onStderr?.(this.stderrDropped > 0 ? `${text}… (${this.stderrDropped} more bytes not kept)` : text);
  }

  private onOutput(chunk: Buffer): void {
    if (this.phase === 'body') return this.writeBody(chunk);
    if (this.phase !== 'head') return;
    const result = this.parser.push(chunk);
    if (result === undefined) return;
    if (result.kind === 'bad') return this.misbehaved(result);
    this.sendHead(result);
  }

  private onOutcome(outcome: FastCgiOutcome): void {
    this.reportStderr();
    switch (outcome.kind) {
      case 'refused':
        // No process read the body: it is dropped, so that the connection can carry the error page and more.
        if (!this.options.req.readableEnded) this.options.req.resume();
        return this.finish(httpError(outcome.status, outcome.substatus, outcome.reason));
      case 'aborted':
        return this.finish(null);
      case 'failed':
        if (this.phase === 'head') return this.finish(httpError(500, 0, `${this.options.purpose}: ${outcome.reason}`));
        if (this.phase === 'body') {
          this.options.res.destroy();
          return this.finish(httpError(500, 0, `${this.options.purpose}: ${outcome.reason} The response was cut.`));
        }
        return;
      case 'complete':
        if (this.phase === 'head') {
          const result = this.parser.end();
          if (result.kind === 'bad') return this.misbehaved(result);
          this.sendHead(result);
        }
        if (this.phase === 'body') this.endBody();
        return;
    }
  }

  /** 502.2, as for CGI; what the application still prints is dropped (phase 'over') so that it can finish normally. */
  private misbehaved(bad: CgiBadHead): void {
    const printed = bad.text.trimEnd();
    this.finish(httpError(502, 2, `${MISBEHAVED}\n${printed === '' ? '(nothing)' : printed}\n\n(${this.options.purpose}: ${bad.problem}.)`));
  }

  private sendHead(head: CgiHead): void {
    const { req, res } = this.options;
    if (res.destroyed) return;
    writeCgiHead(res, head);
    if (req.method === 'HEAD') {
      this.phase = 'discard';
      res.end();
      res.once('finish', () => this.finish(null));
      return;
    }
    this.phase = 'body';
    this.declared = head.contentLength;
    if (head.bodyStart.length > 0) this.writeBody(head.bodyStart);
  }

  private writeBody(chunk: Buffer): void {
    const { res } = this.options;
    if (res.destroyed) return;
    const declared = this.declared;
    if (declared !== undefined) {
      // Bytes beyond the declared length would be read by the client as the start of the next response.
      if (this.sent >= declared) return;
      if (this.sent + chunk.length > declared) chunk = chunk.subarray(0, declared - this.sent);
    }
    this.sent += chunk.length;
    if (!res.write(chunk)) {
      this.request.pause();
      res.once('drain', () => this.request.resume());
    }
  }

  private endBody(): void {
    const { res } = this.options;
    if (this.declared !== undefined && this.sent < this.declared) {
      res.destroy();
      return this.finish(httpError(502, 2, `${this.options.purpose}: the application declared Content-Length ${this.declared} but wrote ${this.sent} bytes; the connection was closed.`));
    }
    res.end();
    res.once('finish', () => this.finish(null));
  }
}
