/**
 * executeRequestHandler, CGI part (RFC 3875, with IIS's status codes): start the script through the spawner as the
 * account the caller chose, stream the request body to its stdin and its stdout to the client, and answer for it
 * when it misbehaves.
 *
 * - A refusal of the spawner (403.19: cannot run as that account) is returned as it is.
 * - Output that ends, or goes wrong, before a complete head → 502.2 with IIS's "misbehaved" text and what the script
 *   printed (in the reason: detailed error pages show it to local clients; remote ones get the generic page).
 * - `timeoutMs` → the whole process group is killed; 502.1 when nothing was sent yet, else the connection is cut
 *   (a truncated response must not look complete). A client that goes away also gets the group killed.
 * - `nph`: the script's stdout is the HTTP response, written raw to the connection, which is closed after it.
 * - stderr is never sent to the client; up to STDERR_LIMIT bytes go to `onStderr` for the log.
 * - A CGI's processes live no longer than its request: once the script has exited and its output ended, whatever
 *   it left running in its process group is killed (work meant to outlive a request belongs in a service).
 *
 * Resolves once the response is complete (or abandoned); the process may still be exiting then, and the timer
 * keeps running until it has.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import { isSpawnRefusal, type ProcessExit, type ProcessSpawner, type SpawnedProcess, type SpawnRequest } from '../../identity/spawn.js';
import { CgiHeadParser, type CgiBadHead, type CgiHead } from './response.js';
import { sendCgiHead, StderrCollector, type BodyWriter } from './output.js';

/** How much of a script's stderr is kept for the log; the rest is read and dropped so the script never blocks. */
export { STDERR_LIMIT } from './output.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

// sc-win32-status: iis-reference §5.4 names no Win32 code IIS logs for 502.1/502.2 (the HRESULTs §5.5 quotes for
// 502.2 read as the CGI process's exit status, not a Win32 error), so httpError's default is used.

export const MISBEHAVED =
  'The specified CGI application misbehaved by not returning a complete set of HTTP headers. The headers it did return are:';

export interface RunCgiOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly spawner: ProcessSpawner;
  /** Filled by the caller: account, file, args, env (see cgiEnvironment), cwd, purpose. */
  readonly request: SpawnRequest;
  /** `cgi.timeout`: how long the script may run, from its start to its exit. */
  readonly timeoutMs: number;
  /** The script's name starts with `nph-`: its output is passed through unparsed. */
  readonly nph: boolean;
  /** What the script wrote to stderr, when it wrote anything, once its stderr is closed. */
  readonly onStderr?: (text: string) => void;
}

export async function runCgi(options: RunCgiOptions): Promise<HttpError | null> {
  const spawned = await options.spawner.spawn(options.request);
  if (isSpawnRefusal(spawned)) return httpError(spawned.status, spawned.substatus, spawned.reason);
  return new CgiRun(options, spawned).done;
}

/** One run of one script: the state its event handlers share. */
class CgiRun {
  readonly done: Promise<HttpError | null>;
  private settle!: (result: HttpError | null) => void;
  /**
   * 'head': reading the head, nothing sent yet; 'body': the head was sent, the body is streaming; 'discard': the
   * head was sent to a HEAD request, the body is read and dropped; 'raw': nph bytes were sent; 'over': the result
   * is settled (the process may still be running down).
   */
  private phase: 'head' | 'body' | 'discard' | 'raw' | 'over' = 'head';
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private exit: ProcessExit | undefined;
  private outputEnded = false;
  private readonly parser = new CgiHeadParser();
  /** The body, once the head is sent. */
  private body: BodyWriter | undefined;
  /** nph: the connection the output goes to, and the start of it (for the log's status). */
  private socket: Socket | undefined;
  private firstLine = '';

  constructor(
    private readonly options: RunCgiOptions,
    private readonly proc: SpawnedProcess,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    // Node turns a delay beyond 2^31-1 ms into 1 ms: a very long time-out must not become an immediate one.
    this.timer = setTimeout(() => this.onTimeout(), Math.min(options.timeoutMs, MAX_TIMER_MS));
    void proc.exited.then((exit) => this.onExit(exit));
    this.feedStdin();
    this.collectStderr();
    const { res } = options;
    res.on('close', () => this.onClientClose());
    const stdout = proc.stdout;
    if (options.nph && !res.socket) {
      // A pipelined request whose turn has not come: the connection is ours once the earlier responses are done.
      stdout.pause();
      res.once('socket', (socket: Socket) => {
        this.socket = socket;
        stdout.resume();
      });
    } else if (options.nph) {
      this.socket = res.socket!;
    }
    stdout.on('data', (chunk: Buffer) => this.onOutput(chunk));
    let ended = false;
    const onEnd = (): void => {
      if (ended) return;
      ended = true;
      this.onOutputEnd();
    };
    // 'close' without 'end': the pipe was destroyed (by us, after a bad head, a time-out or a lost client) or broke.
    stdout.on('end', onEnd);
    stdout.on('error', onEnd);
    stdout.on('close', onEnd);
  }

  private finish(result: HttpError | null): void {
    if (this.phase === 'over') return;
    this.phase = 'over';
    this.settle(result);
  }

  /** The request body to the script's stdin, at the pace the script reads it. */
  private feedStdin(): void {
    const { req } = this.options;
    const stdin = this.proc.stdin;
    stdin.on('error', () => {
      // EPIPE: the script exited or closed stdin without reading the whole body. Not an error of the request: the
      // rest is read and dropped, so that the connection stays usable.
      req.unpipe(stdin);
      req.resume();
    });
    if (req.readableEnded) stdin.end();
    else req.pipe(stdin);
  }

  private collectStderr(): void {
    const collected = new StderrCollector();
    const stderr = this.proc.stderr;
    stderr.on('data', (chunk: Buffer) => collected.push(chunk));
    let reported = false;
    const report = (): void => {
      if (reported) return;
      reported = true;
      const text = collected.text();
      if (text !== undefined) this.options.onStderr?.(text);
    };
    stderr.on('end', report);
    stderr.on('close', report);
    stderr.on('error', report);
  }

  private onOutput(chunk: Buffer): void {
    switch (this.phase) {
      case 'head':
        if (this.options.nph) return this.passThrough(chunk);
        return this.onHeadBytes(chunk);
      case 'body':
        return this.body?.write(chunk);
      case 'raw':
        return this.passThrough(chunk);
      case 'discard':
      case 'over':
        // Read and dropped, so that the script can finish writing and exit.
        return;
    }
  }

  private onHeadBytes(chunk: Buffer): void {
    const result = this.parser.push(chunk);
    if (result === undefined) return;
    if (result.kind === 'bad') return this.misbehaved(result, false);
    this.sendHead(result);
  }

  private onOutputEnd(): void {
    this.outputEnded = true;
    this.reap();
    switch (this.phase) {
      case 'head':
        if (this.options.nph) {
          // Nothing was written: the connection is intact and can carry a proper error page.
          return this.misbehaved({ kind: 'bad', problem: 'the nph script wrote nothing to its standard output', text: '' }, true);
        }
        {
          const result = this.parser.end();
          if (result.kind === 'bad') return this.misbehaved(result, true);
          return this.sendHead(result);
        }
      case 'body':
        return this.endBody();
      case 'raw':
        // The connection carried a response Node's HTTP layer knows nothing about: it cannot carry another one.
        this.socket?.destroySoon();
        return this.finish(null);
      case 'discard':
      case 'over':
        return;
    }
  }

  /** 502.2. When the output simply ended, waits for the exit so that the reason can say how the script ended. */
  private misbehaved(bad: CgiBadHead, ended: boolean): void {
    if (!ended) {
      // The head is already wrong: nothing more the script prints can be sent. Closing the pipe ends a script that
      // keeps writing (SIGPIPE); one that does not is ended by the timer.
      this.proc.stdout.destroy();
    }
    const answer = (): void => {
      if (this.phase !== 'head') return;
      const printed = bad.text.trimEnd();
      const how = this.exit ? ` ${describeExit(this.exit, this.timedOut)}.` : '';
      const reason = `${MISBEHAVED}\n${printed === '' ? '(nothing)' : printed}\n\n(${this.options.request.purpose}: ${bad.problem}.${how})`;
      this.finish(httpError(502, 2, reason));
    };
    if (ended && !this.exit) void this.proc.exited.then(answer);
    else answer();
  }

  private sendHead(head: CgiHead): void {
    const { req, res } = this.options;
    if (res.destroyed) return this.onClientClose();
    this.body = sendCgiHead(req, res, head, this.proc.stdout, (result) => this.finish(result));
    this.phase = this.body ? 'body' : 'discard';
    if (this.body && this.outputEnded) this.endBody();
  }

  private endBody(): void {
    this.body?.end(this.options.request.purpose, (result) => this.finish(result));
  }

  /** nph-: the script's output is the response, status line and all, written to the connection as it comes. */
  private passThrough(chunk: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.phase = 'raw';
    if (this.firstLine.length < 64 && !this.firstLine.includes('\n')) {
      // Only for the log's sc-status: the response itself is not looked at.
      this.firstLine += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
      const status = /^HTTP\/\d\.\d ([1-9][0-9]{2})[ \r\n]/.exec(this.firstLine);
      if (status) this.options.res.statusCode = Number(status[1]);
    }
    if (!socket.write(chunk)) {
      const stdout = this.proc.stdout;
      stdout.pause();
      socket.once('drain', () => stdout.resume());
    }
  }

  private onTimeout(): void {
    this.timedOut = true;
    this.proc.killGroup('SIGKILL');
    const reason = `${this.options.request.purpose}: the script did not finish within the CGI time-out (${this.options.timeoutMs} ms); its process group was killed.`;
    switch (this.phase) {
      case 'head':
        // Answered at once: the pipe could stay open as long as a process outside the group holds it.
        this.proc.stdout.destroy();
        return this.finish(httpError(502, 1, reason));
      case 'body':
      case 'raw':
        // Part of the response is out: only cutting the connection tells the client that it is incomplete.
        this.options.res.destroy();
        this.socket?.destroy();
        return this.finish(httpError(502, 1, reason));
      case 'discard':
      case 'over':
        return;
    }
  }

  private onClientClose(): void {
    if (this.phase === 'over' || this.options.res.writableFinished) return;
    // Nobody is waiting for the output any more: the script and everything it started are stopped.
    this.proc.killGroup('SIGKILL');
    this.proc.stdout.destroy();
    this.finish(null);
  }

  private onExit(exit: ProcessExit): void {
    this.exit = exit;
    this.reap();
  }

  /**
   * Script gone and its output closed: stop the timer, kill what it left behind in its group, and drop what is left
   * of the request body (nobody will read it; a request stuck paused would keep the connection from its next one).
   */
  private reap(): void {
    if (!this.exit || !this.outputEnded) return;
    clearTimeout(this.timer);
    this.proc.killGroup('SIGKILL');
    const { req } = this.options;
    if (!req.readableEnded) {
      req.unpipe(this.proc.stdin);
      req.resume();
    }
  }
}

function describeExit(exit: ProcessExit, timedOut: boolean): string {
  if (exit.signal) return `The script was ended by ${exit.signal}${timedOut ? ' after the time-out' : ''}`;
  return `The script exited with code ${exit.code}`;
}
