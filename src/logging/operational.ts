import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactProperties, redactSecrets, scrubJsonLine } from './redact.js';

export type { Logger } from 'pino';

export interface OperationalLogOptions {
  readonly level: string; // fatal … trace, or silent
  readonly file?: string; // appended to; its folder is created if missing
  readonly stdout?: boolean; // default: true when no file is given or it cannot be opened
  /** Destination failures (unwritable file, full buffer); the default emits a process warning. */
  readonly onError?: (error: Error) => void;
}

type Destination = ReturnType<typeof pino.destination>;

// Exact paths pino redacts cheaply; they cover the usual shapes. Everything else (other cases, deeper
// nesting, raw header arrays, Maps, errors) is handled by redactSecrets and, last, by scrubJsonLine.
const REDACT_PATHS = [
  'authorization', 'cookie',
  'req.headers.authorization', 'req.headers["proxy-authorization"]', 'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization', 'headers["proxy-authorization"]', 'headers.cookie', 'headers["set-cookie"]',
  '*.headers.authorization', '*.headers["proxy-authorization"]', '*.headers.cookie', '*.headers["set-cookie"]',
];

// Keys given to a serializer; the log formatter leaves them to it so they are walked once.
const SERIALIZED = new Set(['req', 'res', 'err', 'error', 'headers', 'rawHeaders']);

const serializers = Object.fromEntries([...SERIALIZED].map((key) => [key, redactSecrets]));

// Lines wait in memory only while a write is in flight; beyond this they are dropped (pino's sonic-boom
// emits 'drop') instead of growing without limit when the disk stalls.
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

// The sonic-boom destinations behind each logger's stream, for flushOperationalLog (child loggers share it).
const destinations = new WeakMap<object, Destination[]>();

function defaultOnError(error: Error): void {
  process.emitWarning(error);
}

function wrapDestination(stream: Destination, name: string, report: (error: Error) => void): Destination {
  stream.on('error', report);
  let dropping = false;
  stream.on('drop', () => {
    if (dropping) return;
    dropping = true;
    report(new Error(`operational log ${name}: ${MAX_BUFFERED_BYTES} bytes waiting; dropping lines`));
  });
  stream.on('drain', () => {
    dropping = false;
  });
  // pino flushes synchronously on process exit; a disk error there must not become an uncaught exception.
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    try {
      flushSync();
    } catch (error) {
      report(error instanceof Error ? error : new Error(String(error)));
    }
  };
  return stream;
}

// minLength 1: every line is written at once (as with 0), but flush(cb) then really waits for the data.
const STREAM_OPTIONS = { sync: false, minLength: 1, maxLength: MAX_BUFFERED_BYTES } as const;

/**
 * Opens the file now, synchronously (this runs at startup): sonic-boom's own asynchronous open leaves a
 * stream whose writes throw when the open failed, which would make a log call throw.
 */
function openFile(file: string, report: (error: Error) => void): Destination | undefined {
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, 'a');
  } catch (error) {
    report(error instanceof Error ? error : new Error(String(error)));
    return undefined;
  }
  return wrapDestination(pino.destination({ dest: fd, ...STREAM_OPTIONS }), file, report);
}

/**
 * The JSON operational log (pino). Authorization, Proxy-Authorization, Cookie, Set-Cookie and NTLM /
 * Negotiate / Basic blobs never reach the output: known paths are redacted by pino, request, response,
 * error and header objects go through a redacting serializer, every other logged value through the same
 * redaction, and the finished line through a text scrubber that also covers the message itself.
 */
export function createOperationalLog(options: OperationalLogOptions): Logger {
  const onError = options.onError ?? defaultOnError;
  const report = (error: Error): void => {
    try {
      onError(error);
    } catch {
      // The log's error callback failing must not take the server down.
    }
  };

  let level = options.level;
  if (level !== 'silent' && !Object.hasOwn(pino.levels.values, level)) {
    report(new Error(`operational log: unknown level '${level}', using 'info'`));
    level = 'info';
  }

  const streams: Destination[] = [];
  const wantsFile = options.file !== undefined && options.file !== '';
  const file = wantsFile ? openFile(options.file!, report) : undefined;
  if (file !== undefined) streams.push(file);
  // Without a usable file the log goes to stdout, unless stdout was explicitly turned off.
  if (options.stdout ?? file === undefined) {
    streams.push(wrapDestination(pino.destination({ dest: 1, ...STREAM_OPTIONS }), 'stdout', report));
  }

  const config: pino.LoggerOptions = {
    level,
    enabled: streams.length > 0,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers,
    formatters: {
      log: (obj) => redactProperties(obj, SERIALIZED),
      bindings: (bindings) => redactProperties(bindings, SERIALIZED),
    },
    hooks: { streamWrite: scrubJsonLine },
  };

  let stream: DestinationStream | undefined;
  if (streams.length === 1) stream = streams[0]!;
  // The logger's level decides; the streams take everything it lets through, so a runtime level change works.
  else if (streams.length > 1) stream = pino.multistream(streams.map((s) => ({ level: 'trace' as const, stream: s })));

  const logger = stream === undefined ? pino(config) : pino(config, stream);
  if (stream !== undefined) destinations.set(stream, streams);
  return logger;
}

function flushOne(stream: Destination, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    // A stalled disk must not hold shutdown forever.
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      stream.flush(done); // errors are already reported through the stream's 'error' listener
    } catch {
      done();
    }
  });
}

/** Waits until every line logged so far is written (or timeoutMs passed); for shutdown. Never rejects. */
export async function flushOperationalLog(logger: Logger, timeoutMs = 5000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  const streams = typeof stream === 'object' && stream !== null ? destinations.get(stream) : undefined;
  if (streams === undefined) {
    await new Promise<void>((resolve) => {
      try {
        logger.flush(() => resolve());
      } catch {
        resolve();
      }
    });
    return;
  }
  await Promise.all(streams.map((s) => flushOne(s, timeoutMs)));
}
