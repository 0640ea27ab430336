/**
 * One FastCGI request over one connection to one process (a Responder): BEGIN_REQUEST, PARAMS, the request body as
 * STDIN (streamed at the pace the application reads it), then STDOUT/STDERR until END_REQUEST.
 *
 * Time limits (IIS <fastCgi><application>): `requestTimeoutMs` from the start of the exchange, `activityTimeoutMs`
 * without a byte in either direction. When one expires the caller's `kill` stops the process (a PHP script stuck in
 * a loop is only stopped by killing it) and the exchange fails with the reason.
 *
 * Settles once; never throws. Output is handed to the sink as it arrives; `pause`/`resume` stop reading the
 * connection (the client is slower than the application: back-pressure reaches it through the socket).
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { decodeEndRequest, encodeBeginRequest, encodeParams, encodeStreamChunk, encodeStreamEnd, isProtocolError, ProtocolStatus, RecordDecoder, RecordType, Role } from './protocol.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** One request per connection: php-cgi serves connections one at a time, so there is never a second id in use. */
const REQUEST_ID = 1;

export interface FastCgiSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export type ExchangeResult =
  | { readonly kind: 'complete'; readonly appStatus: number }
  | { readonly kind: 'failed'; readonly reason: string; readonly timedOut: boolean; readonly killed: boolean }
  | { readonly kind: 'aborted' };

export interface ExchangeOptions {
  readonly socketPath: string;
  readonly params: Readonly<Record<string, string>>;
  /** The request body; undefined or an empty buffer for none. */
  readonly stdin: Readable | Buffer | undefined;
  readonly sink: FastCgiSink;
  readonly requestTimeoutMs: number;
  readonly activityTimeoutMs: number;
  /** Stops the process (it may be stuck); `why` goes to the log. */
  readonly kill: (why: string) => void;
  /** How the process ended, if it has, for the reason of a failure (waited for briefly). */
  readonly describeExit: () => Promise<string | undefined>;
  /** For the reasons: "FastCGI /usr/bin/php-cgi as www-data (pid 123)". */
  readonly label: string;
}

export class Exchange {
  readonly result: Promise<ExchangeResult>;
  private settle!: (result: ExchangeResult) => void;
  private settled = false;
  private readonly socket: net.Socket;
  private readonly decoder = new RecordDecoder();
  private readonly requestTimer: NodeJS.Timeout;
  private activityTimer: NodeJS.Timeout | undefined;
  private detachStdin: () => void = () => undefined;

  constructor(private readonly options: ExchangeOptions) {
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.requestTimer = setTimeout(() => this.timeout(`did not complete the request within requestTimeout (${options.requestTimeoutMs} ms)`), Math.min(options.requestTimeoutMs, MAX_TIMER_MS));
    this.touch();
    this.socket = net.connect(options.socketPath);
    this.socket.on('connect', () => this.send());
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.closed());
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.settled) this.socket.resume();
  }

  /** The client went away: the process may be mid-script, and is stopped (a fresh one replaces it on demand). */
  abort(): void {
    if (this.settled) return;
    this.options.kill('the client closed the connection during the request');
    this.finish({ kind: 'aborted' });
  }

  private touch(): void {
    if (this.settled) return;
    clearTimeout(this.activityTimer);
    this.activityTimer = setTimeout(
      () => this.timeout(`sent nothing for activityTimeout (${this.options.activityTimeoutMs} ms)`),
      Math.min(this.options.activityTimeoutMs, MAX_TIMER_MS),
    );
  }

  private send(): void {
    const params = encodeParams(REQUEST_ID, this.options.params);
    if (isProtocolError(params)) return this.fail(`${this.options.label}: ${params.reason}`, false);
    // No KEEP_CONN: the application closes the connection after END_REQUEST, which is also how a crash shows.
    this.socket.write(encodeBeginRequest(REQUEST_ID, Role.Responder, 0));
    this.socket.write(params);
    const stdin = this.options.stdin;
    if (stdin === undefined || Buffer.isBuffer(stdin)) {
      if (stdin !== undefined) this.socket.write(encodeStreamChunk(RecordType.Stdin, REQUEST_ID, stdin));
      this.socket.write(encodeStreamEnd(RecordType.Stdin, REQUEST_ID));
      return;
    }
    this.streamStdin(stdin);
  }

  private streamStdin(stdin: Readable): void {
    const onData = (chunk: Buffer): void => {
      this.touch();
      if (!this.socket.write(encodeStreamChunk(RecordType.Stdin, REQUEST_ID, chunk))) {
        stdin.pause();
        this.socket.once('drain', () => stdin.resume());
      }
    };
    const onEnd = (): void => {
      this.socket.write(encodeStreamEnd(RecordType.Stdin, REQUEST_ID));
    };
    this.detachStdin = () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      // The rest of a body nobody will read is dropped, so that the client's connection stays usable.
      if (!stdin.readableEnded) stdin.resume();
    };
    if (stdin.readableEnded) return onEnd();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  }

  private receive(chunk: Buffer): void {
    if (this.settled) return;
    this.touch();
    const records = this.decoder.push(chunk);
    if (isProtocolError(records)) {
      this.options.kill(`it broke the FastCGI protocol: ${records.reason}`);
      return this.fail(`${this.options.label} broke the FastCGI protocol: ${records.reason}`, true);
    }
    for (const record of records) {
      if (this.settled) return;
      // A stray id is the application's confusion, not a reason to trust its other records less: ignored.
      if (record.requestId !== REQUEST_ID) continue;
      switch (record.type) {
        case RecordType.Stdout:
          if (record.content.length > 0) this.options.sink.stdout(record.content);
          break;
        case RecordType.Stderr:
          if (record.content.length > 0) this.options.sink.stderr(record.content);
          break;
        case RecordType.EndRequest: {
          const end = decodeEndRequest(record.content);
          if (isProtocolError(end)) {
            this.options.kill(`it broke the FastCGI protocol: ${end.reason}`);
            return this.fail(`${this.options.label} broke the FastCGI protocol: ${end.reason}`, true);
          }
          if (end.protocolStatus !== ProtocolStatus.RequestComplete) {
            return this.fail(`${this.options.label} refused the request (FastCGI protocolStatus ${end.protocolStatus})`, false);
          }
          return this.finish({ kind: 'complete', appStatus: end.appStatus });
        }
        default:
          // GET_VALUES_RESULT, UNKNOWN_TYPE…: nothing a Responder's request needs.
          break;
      }
    }
  }

  private closed(): void {
    if (this.settled) return;
    // Closed before END_REQUEST: the process died, or closed on us. Say how it ended when that is known quickly.
    void this.options.describeExit().then((how) => {
      this.fail(`${this.options.label} closed the connection before completing the request${how ? ` (${how})` : ''}`, false);
    });
  }

  private timeout(what: string): void {
    if (this.settled) return;
    this.options.kill(`it ${what}`);
    this.finish({ kind: 'failed', reason: `${this.options.label} ${what}; the process was killed.`, timedOut: true, killed: true });
  }

  private fail(reason: string, killed: boolean): void {
    this.finish({ kind: 'failed', reason, timedOut: false, killed });
  }

  private finish(result: ExchangeResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.requestTimer);
    clearTimeout(this.activityTimer);
    this.detachStdin();
    this.socket.destroy();
    this.settle(result);
  }
}
