/**
 * One thread of the Node load generator (bench/node-load.ts): its share of the connections, each running one loop
 * of requests with no pipelining, as wrk's connections do. The main thread says when the measured window starts
 * and ends; only responses completed inside it are counted, and every one of them must be 200 with the file's exact
 * bytes — anything else is counted as a status error with the first one described, so a run that measured 401s
 * cannot pass for a fast one.
 *
 * Modes:
 *  - keepalive:      GET on kept-alive connections (the anonymous 1 KiB case, to compare with wrk and with NTLM).
 *  - close:          a new connection per GET with Connection: close (the server closes it after the answer).
 *  - ntlm-keepalive: each connection completes an NTLM handshake before the loop starts (and again if the server
 *                    closes it), then GETs with no Authorization header: the connection is authenticated.
 *  - ntlm-handshake: a new connection per iteration: NEGOTIATE → CHALLENGE → AUTHENTICATE (+ Connection: close)
 *                    → 200 with the body; one iteration counts as one "request" (a handshake).
 *  - digest-keepalive: each connection gets a Digest challenge before the loop starts (and again if the server
 *                    closes it), then every GET answers that nonce with the next nc (bench/digest-session.ts): the
 *                    server verifies nonce, nc and response on each request.
 *
 * With a `versus` load, the two loads take turns in slices (0.5 s by default), each on its own connections: when a
 * slice ends its load stops starting requests, its requests in flight finish uncounted, then the other load runs.
 * Each load's rate is its requests over the time it ran, so whatever else the machine does during the run weighs on
 * both alike — on a shared 2-core machine, two 5-second runs one after the other can differ by half.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { getRequest, Http1Connection, type RawResponse } from './http1-client.js';
import { LatencyHistogram } from './latency.js';
import type { FromWorker, LoadCounts, LoadSpec, ToWorker, WorkerInput, WorkerResult } from './node-load-protocol.js';
import { ntlmHandshake } from './ntlm-handshake.js';
import { DigestSession } from './digest-session.js';

/** How long a stopping loop may take to finish its request in flight before its socket is destroyed. */
const DRAIN_MS = 5_000;
/**
 * Digest requests each connection makes before the run (DigestSession.prepare): 25 slices of 100 ms at 50,000
 * req/s over 32 connections need about 3,900; about 2.3 MB per connection.
 */
const DIGEST_REQUESTS_AHEAD = 4_096;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A promise and its resolve (Promise.withResolvers is Node 22). */
function newGate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const input = workerData as WorkerInput;
const hostHeader = `${input.host}:${input.port}`;
let measuring = false;
let stopping = false;
let setupHandshakes = 0;
const live = new Set<Http1Connection>();

async function open(): Promise<Http1Connection> {
  const c = await Http1Connection.open(input.host, input.port);
  live.add(c);
  void c.whenClosed().then(() => live.delete(c));
  return c;
}

/** One load's connections, counters, and the gate its loops wait at while the other load has the slice. */
class Load {
  readonly expected: Buffer;
  readonly plainGet: Buffer;
  readonly closeGet: Buffer;
  readonly histogram = new LatencyHistogram();
  readonly errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };
  requests = 0;
  bytes = 0;
  activeUs = 0;
  slices = 0;
  firstError: string | null = null;
  active = false;
  private sliceStart = 0;
  private inFlight = 0;
  private gate = newGate();
  private idle: (() => void) | null = null;
  loops: Promise<void>[] = [];

  constructor(readonly spec: LoadSpec) {
    this.expected = Buffer.from(spec.expected.buffer, spec.expected.byteOffset, spec.expected.byteLength);
    this.plainGet = getRequest(spec.path, hostHeader);
    this.closeGet = getRequest(spec.path, hostHeader, { Connection: 'close' });
  }

  activate(): void {
    this.active = true;
    if (measuring) {
      this.sliceStart = performance.now();
      this.slices += 1;
    }
    this.gate.open();
  }

  /** Stops counting (and starting) requests; resolves when the ones in flight have finished. */
  deactivate(): Promise<void> {
    if (this.active && measuring) this.activeUs += (performance.now() - this.sliceStart) * 1000;
    this.active = false;
    this.gate = newGate();
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => (this.idle = r));
  }

  /** The measured window opens: a running load counts from now. */
  startMeasuring(): void {
    if (!this.active) return;
    this.sliceStart = performance.now();
    this.slices += 1;
  }

  stopMeasuring(): void {
    if (this.active) this.activeUs += (performance.now() - this.sliceStart) * 1000;
  }

  /** After `stopping` is set: loops waiting for their turn wake, see it, and end. */
  release(): void {
    this.gate.open();
  }

  /** Waits while the other load has the slice; false when the run is over. */
  async turn(): Promise<boolean> {
    while (!this.active && !stopping) await this.gate.promise;
    if (stopping) return false;
    this.inFlight += 1;
    return true;
  }

  done(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.idle) {
      const r = this.idle;
      this.idle = null;
      r();
    }
  }

  noteError(kind: keyof Load['errors'], what: string): void {
    if (!measuring || !this.active) return;
    this.errors[kind] += 1;
    this.firstError ??= what;
  }

  /** Counts a response finished now that began at `start`, if it is 200 with the file's bytes. */
  count(r: RawResponse, start: number, extraBytes = 0): void {
    if (!measuring || !this.active) return;
    if (r.status !== 200 || !r.body.equals(this.expected)) {
      this.errors.status += 1;
      this.firstError ??=
        r.status !== 200 ? `HTTP ${r.status}: ${r.head.split('\r\n').slice(0, 6).join(' | ')}` : `HTTP 200 with ${r.body.length} bytes that differ from the ${this.expected.length}-byte file`;
      return;
    }
    this.requests += 1;
    this.bytes += r.bytes + extraBytes;
    this.histogram.record((performance.now() - start) * 1000);
  }

  counts(): LoadCounts {
    const h = this.histogram;
    return {
      requests: this.requests,
      activeUs: this.activeUs,
      bytes: this.bytes,
      errors: this.errors,
      firstError: this.firstError,
      histogram: { counts: h.counts, count: h.count, sum: h.sum, sumSquares: h.sumSquares, min: h.min, max: h.max },
    };
  }

  get keepsAlive(): boolean {
    return this.spec.mode === 'keepalive' || this.spec.mode === 'ntlm-keepalive' || this.spec.mode === 'digest-keepalive';
  }

  /** Each Digest connection's session (its nonce, count, and requests made ahead). */
  readonly digest = new WeakMap<Http1Connection, DigestSession>();

  /** A keep-alive connection ready for the loop: for NTLM, authenticated by a handshake that must end in 200. */
  async ready(): Promise<Http1Connection> {
    const c = await open();
    if (this.spec.mode === 'digest-keepalive') {
      try {
        const session = await DigestSession.start(c, this.spec.path, hostHeader, input.account!);
        session.prepare(DIGEST_REQUESTS_AHEAD);
        this.digest.set(c, session);
      } catch (e) {
        c.destroy();
        throw new Error(`the Digest challenge failed: ${(e as Error).message}`);
      }
      return c;
    }
    if (this.spec.mode !== 'ntlm-keepalive') return c;
    const { final } = await ntlmHandshake(c, this.spec.path, hostHeader, input.account!);
    setupHandshakes += 1;
    if (final.status !== 200 || !final.body.equals(this.expected)) {
      c.destroy();
      throw new Error(`the NTLM handshake ended in HTTP ${final.status}${final.status === 200 ? ' with the wrong bytes' : ''}, not 200 with the file`);
    }
    return c;
  }

  async keepAliveLoop(first: Http1Connection): Promise<void> {
    let c: Http1Connection | null = first;
    while (await this.turn()) {
      try {
        if (!c) {
          try {
            c = await this.ready();
          } catch (e) {
            // a handshake that was answered wrongly is a wrong answer (it voids the number), not a socket error
            const m = (e as Error).message;
            this.noteError(/^the (NTLM handshake ended|NEGOTIATE|Digest challenge)/.test(m) ? 'status' : 'connect', `reconnecting: ${m}`);
            await sleep(10);
            continue;
          }
        }
        const start = performance.now();
        let r: RawResponse;
        try {
          const session = this.digest.get(c);
          r = await c.request(session ? session.nextRequest() : this.plainGet);
        } catch (e) {
          if (!stopping) this.noteError('read', (e as Error).message);
          c.destroy();
          c = null;
          continue;
        }
        this.count(r, start);
        // keep-alive loads expect the connection to stay open; a server that closes it costs a reconnect (and for
        // NTLM a handshake) outside the count, as wrk reconnects without counting an error
        if (r.close) {
          c.destroy();
          c = null;
        }
      } finally {
        this.done();
      }
    }
    c?.destroy();
  }

  async freshLoop(): Promise<void> {
    while (await this.turn()) {
      try {
        const start = performance.now();
        let c: Http1Connection;
        try {
          c = await open();
        } catch (e) {
          this.noteError('connect', (e as Error).message);
          await sleep(10);
          continue;
        }
        try {
          if (this.spec.mode === 'close') {
            this.count(await c.request(this.closeGet), start);
          } else {
            const { challenge, final } = await ntlmHandshake(c, this.spec.path, hostHeader, input.account!, true);
            this.count(final, start, challenge.bytes);
          }
        } catch (e) {
          if (!stopping) this.noteError(/the NEGOTIATE/.test((e as Error).message) ? 'status' : 'read', (e as Error).message);
          c.destroy();
          continue;
        }
        // As wrk does after a Connection: close answer: close at once and connect again (the server closes its side
        // too). The TIME_WAIT this leaves here is reused for new connections on loopback (tcp_tw_reuse's default).
        c.destroy();
      } finally {
        this.done();
      }
    }
  }

  async start(connections: number): Promise<void> {
    if (this.keepsAlive) {
      const conns = await Promise.all(Array.from({ length: connections }, () => this.ready()));
      this.loops = conns.map((c) => this.keepAliveLoop(c));
    } else {
      this.loops = Array.from({ length: connections }, () => this.freshLoop());
    }
  }
}

async function main(): Promise<void> {
  const port = parentPort!;
  const main = new Load(input.main);
  const versus = input.versus ? new Load(input.versus) : null;
  const loads = versus ? [main, versus] : [main];
  for (const l of loads) {
    if ((l.spec.mode === 'ntlm-keepalive' || l.spec.mode === 'ntlm-handshake' || l.spec.mode === 'digest-keepalive') && !input.account) throw new Error(`mode ${l.spec.mode} needs an account`);
  }
  try {
    // keep-alive connections (and their handshakes) are made before any load runs
    for (const l of loads) await l.start(input.connections);
  } catch (e) {
    stopping = true;
    for (const c of live) c.destroy();
    port.postMessage({ type: 'failed', message: `setting up ${input.connections} connections: ${(e as Error).message}` } satisfies FromWorker);
    return;
  }
  main.activate();
  port.postMessage({ type: 'ready' } satisfies FromWorker);

  // the slices: the running load stops, its requests in flight finish, the other one starts
  const rotation = versus
    ? (async () => {
        let current = main;
        for (;;) {
          await sleep(input.sliceMs);
          if (stopping) return;
          const next = current === main ? versus : main;
          await current.deactivate();
          if (stopping) return;
          next.activate();
          current = next;
        }
      })()
    : Promise.resolve();

  port.on('message', (m: ToWorker) => {
    if (m.type === 'measure') {
      measuring = true;
      for (const l of loads) l.startMeasuring();
      return;
    }
    for (const l of loads) l.stopMeasuring();
    measuring = false;
    stopping = true;
    for (const l of loads) l.release();
    const drained = Promise.all([rotation, ...loads.flatMap((l) => l.loops)]).then(() => true);
    void Promise.race([drained, sleep(DRAIN_MS).then(() => false)]).then(() => {
      for (const c of live) c.destroy();
      const result: WorkerResult = {
        main: main.counts(),
        versus: versus?.counts() ?? null,
        setupHandshakes,
        slices: Math.min(...loads.map((l) => l.slices)),
      };
      const transfer = loads.map((l) => l.histogram.counts.buffer as ArrayBuffer);
      port.postMessage({ type: 'result', result } satisfies FromWorker, transfer);
      port.close();
    });
  });
}

main().catch((e: unknown) => {
  parentPort?.postMessage({ type: 'failed', message: (e as Error).message } satisfies FromWorker);
});
