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
import { hasRequestBody } from '../../pipeline/body.js';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import { MISBEHAVED } from '../cgi/run.js';
import { sendCgiHead, StderrCollector, type BodyWriter } from '../cgi/output.js';
import { CgiHeadParser, type CgiBadHead, type CgiHead } from '../cgi/response.js';
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
  private body: BodyWriter | undefined;
  private readonly request: FastCgiRequest;
  private readonly stderr = new StderrCollector();

  constructor(private readonly options: RespondOptions) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    const { req, res } = options;
    this.request = options.pool.request(options.params, hasRequestBody(req) ? req : undefined, {
      stdout: (chunk) => this.onOutput(chunk),
      stderr: (chunk) => this.stderr.push(chunk),
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

  private reportStderr(): void {
    const text = this.stderr.text();
    if (text !== undefined) this.options.onStderr?.(text);
  }

  private onOutput(chunk: Buffer): void {
    if (this.phase === 'body') return this.body?.write(chunk);
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
    this.body = sendCgiHead(req, res, head, this.request, (result) => this.finish(result));
    this.phase = this.body ? 'body' : 'discard';
  }

  private endBody(): void {
    this.body?.end(this.options.purpose, (result) => this.finish(result));
  }
}
