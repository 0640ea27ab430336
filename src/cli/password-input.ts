/**
 * Reading a password for `persona user add` and `user passwd`. Passwords never come from argv (other users see a
 * process's arguments in ps and /proc, and shells keep them in history): from a terminal they are typed without
 * echo, twice; from a pipe the first line is the password, so `printf 'pw\n' | persona user add alice` works in
 * scripts. Nothing here logs or echoes the password.
 */
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export type PasswordResult = { readonly password: string } | { readonly error: string };

/** Far beyond any password (Windows allows 256 characters); a longer line is a wrong file piped in. */
export const MAX_PASSWORD_BYTES = 4096;

interface TtyInput extends Readable {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** A new password: prompted twice without echo on a terminal, else the first line of the input. */
export async function readNewPassword(forWhom: string, input: TtyInput = process.stdin, output: Writable = process.stderr): Promise<PasswordResult> {
  if (input.isTTY && input.setRawMode) {
    const first = await promptHidden(`Type a password for ${forWhom}: `, input, output);
    if ('error' in first) return first;
    const second = await promptHidden('Retype the password to confirm: ', input, output);
    if ('error' in second) return second;
    if (first.password !== second.password) return { error: 'the passwords do not match; nothing was changed' };
    return checkPassword(first.password);
  }
  const line = await readFirstLine(input);
  return 'error' in line ? line : checkPassword(line.password);
}

function checkPassword(password: string): PasswordResult {
  if (password.length === 0) return { error: 'an empty password is refused; type a password (or pipe one line: printf "%s\\n" "$PW" | persona …)' };
  return { password };
}

/**
 * The first line of a non-terminal input, without its line ending (LF or CRLF). Reading stops at the first
 * newline, so a writer that keeps the pipe open does not make us wait, and the rest is never read.
 * Bytes must be UTF-8: a password decoded leniently would silently become a different password.
 */
export function readFirstLine(input: Readable, maxBytes = MAX_PASSWORD_BYTES): Promise<PasswordResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: PasswordResult): void => {
      if (settled) return;
      settled = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      // A pipe we stop reading would keep the process alive; nothing more is wanted from it.
      input.destroy();
      resolve(result);
    };
    const decode = (bytes: Buffer): PasswordResult => {
      const text = bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
      try {
        return { password: new TextDecoder('utf-8', { fatal: true }).decode(text) };
      } catch {
        return { error: 'the password on standard input is not valid UTF-8' };
      }
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const newline = bytes.indexOf(0x0a);
      const part = newline === -1 ? bytes : bytes.subarray(0, newline);
      size += part.length;
      if (size > maxBytes) return finish({ error: `the password on standard input is longer than ${maxBytes} bytes` });
      chunks.push(part);
      if (newline !== -1) finish(decode(Buffer.concat(chunks)));
    };
    const onEnd = (): void => finish(decode(Buffer.concat(chunks)));
    const onError = (err: Error): void => finish({ error: `cannot read the password from standard input: ${err.message}` });
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/**
 * One password typed on a terminal in raw mode, so nothing is echoed. Enter ends it; Backspace deletes the last
 * character; Ctrl-U clears the line; Ctrl-C, or Ctrl-D on an empty line, cancels.
 */
export function promptHidden(prompt: string, input: TtyInput, output: Writable): Promise<PasswordResult> {
  return new Promise((resolve) => {
    const decoder = new StringDecoder('utf8');
    let typed: string[] = [];
    // Inside an escape sequence (arrow keys, Home…: ESC [ … final letter or ~), which is not part of the password.
    let escape = false;
    // Raw mode first: whatever is typed once the prompt is visible must never be echoed.
    input.setRawMode?.(true);
    output.write(prompt);
    const finish = (result: PasswordResult): void => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      resolve(result);
    };
    const onData = (chunk: Buffer | string): void => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      for (const ch of text) {
        if (escape) {
          if (/[A-Za-z~]/.test(ch)) escape = false;
          continue;
        }
        if (ch === '\u001b') {
          escape = true;
          continue;
        }
        if (ch === '\r' || ch === '\n') return finish({ password: typed.join('') });
        if (ch === '\u0003') return finish({ error: 'cancelled; nothing was changed' });
        if (ch === '\u0004') {
          if (typed.length === 0) return finish({ error: 'cancelled; nothing was changed' });
          continue;
        }
        if (ch === '\u007f' || ch === '\b') typed.pop();
        else if (ch === '\u0015') typed = [];
        else if (ch >= ' ') typed.push(ch);
        // Other control characters are not part of a password typed at a prompt.
      }
      if (typed.join('').length > MAX_PASSWORD_BYTES) finish({ error: `the password is longer than ${MAX_PASSWORD_BYTES} characters` });
    };
    input.on('data', onData);
    input.resume();
  });
}
