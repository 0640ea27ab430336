/**
 * Messages between a worker and its launcher about listening sockets (processes are the forker's business: src/identity/forker-spawner.ts).
 * The worker asks for (ip, port); the launcher answers with the socket as an IPC handle, or why it could not.
 * Everything from the worker is validated: it runs as a less privileged account.
 */
export interface BindRequest {
  readonly persona: 'launcher';
  readonly type: 'bind';
  readonly id: number;
  readonly ip: string;
  readonly port: number;
}

/** The worker asks for the TLS files of the configuration (which only the launcher may read). */
export interface SecretsRequest {
  readonly persona: 'launcher';
  readonly type: 'secrets';
  readonly id: number;
}

export type LauncherReply =
  | { readonly persona: 'launcher'; readonly type: 'bound'; readonly id: number }
  | { readonly persona: 'launcher'; readonly type: 'bind-failed'; readonly id: number; readonly reason: string }
  /** Absolute path → base64 bytes, for every TLS file of the configuration the launcher could read. */
  | { readonly persona: 'launcher'; readonly type: 'secrets'; readonly id: number; readonly files: readonly (readonly [string, string])[] };

export function isSecretsRequest(value: unknown): value is SecretsRequest {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.persona === 'launcher' && v.type === 'secrets' && Number.isSafeInteger(v.id);
}

/** Worker side: the TLS files, as the launcher read them. */
export function secretsFromLauncher(channel: NodeJS.Process = process, timeoutMs = 10_000): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const id = nextSecretsId++;
    const timer = setTimeout(() => {
      channel.off('message', onMessage);
      reject(new Error(`the launcher did not send the TLS files within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      if (!isLauncherReply(message) || message.id !== id || message.type !== 'secrets') return;
      clearTimeout(timer);
      channel.off('message', onMessage);
      resolve(new Map(message.files.map(([file, b64]) => [file, Buffer.from(b64, 'base64')])));
    };
    channel.on('message', onMessage);
    const request: SecretsRequest = { persona: 'launcher', type: 'secrets', id };
    channel.send?.(request);
  });
}
let nextSecretsId = 1_000_000;

export function isLauncherRequest(value: unknown): value is BindRequest {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.persona === 'launcher' &&
    v.type === 'bind' &&
    Number.isSafeInteger(v.id) &&
    typeof v.ip === 'string' &&
    v.ip.length > 0 &&
    v.ip.length <= 64 &&
    /^[0-9a-fA-F:.*]+$/.test(v.ip) &&
    Number.isInteger(v.port) &&
    (v.port as number) >= 1 &&
    (v.port as number) <= 65535
  );
}

export function isLauncherReply(value: unknown): value is LauncherReply {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.type === 'secrets' && !Array.isArray(v.files)) return false;
  return v.persona === 'launcher' && (v.type === 'bound' || v.type === 'bind-failed' || v.type === 'secrets') && Number.isSafeInteger(v.id);
}

/** Worker side: a bind function for PersonaServer that asks the launcher over this process's IPC channel. */
export function bindThroughLauncher(channel: NodeJS.Process = process, timeoutMs = 10_000): (key: { ip: string; port: number }) => Promise<import('node:net').Server> {
  let nextId = 1;
  return (key) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        channel.off('message', onMessage);
        reject(new Error(`the launcher did not open ${key.ip}:${key.port} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const onMessage = (message: unknown, handle: unknown) => {
        if (!isLauncherReply(message) || message.id !== id) return;
        clearTimeout(timer);
        channel.off('message', onMessage);
        if (message.type === 'bound' && handle) resolve(handle as import('node:net').Server);
        else reject(new Error(`the launcher could not open ${key.ip}:${key.port}: ${message.type === 'bind-failed' ? message.reason : 'no socket received'}`));
      };
      channel.on('message', onMessage);
      const request: BindRequest = { persona: 'launcher', type: 'bind', id, ip: key.ip, port: key.port };
      channel.send?.(request);
    });
}
