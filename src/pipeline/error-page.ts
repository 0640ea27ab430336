/**
 * The response body of a refusal. Remote clients see the status, substatus and a generic description (IIS
 * "DetailedLocalOnly"); loopback clients, or every client with errorMode Detailed, also see the reason, the stage
 * and the trace id. A custom page configured for status.substatus (or status) replaces the built-in one, unless the
 * mode is Detailed and the client may see details.
 */
import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/schema.js';
import { escapeHtml } from './html.js';
import { describe, reasonPhrase, statusLabel, type HttpError } from './errors.js';

export interface ErrorPageInput {
  readonly error: HttpError;
  readonly settings: Settings['httpErrors'] | undefined;
  readonly loopback: boolean;
  readonly stage: string | undefined;
  readonly traceId: string;
  readonly method: string;
  readonly url: string;
  readonly physicalPath: string | undefined;
}

export interface ErrorPage {
  readonly contentType: string;
  readonly body: Buffer;
}


export function showsDetails(settings: Settings['httpErrors'] | undefined, loopback: boolean): boolean {
  const mode = settings?.errorMode ?? 'DetailedLocalOnly';
  return mode === 'Detailed' || (mode === 'DetailedLocalOnly' && loopback);
}

export function builtInPage(input: ErrorPageInput): ErrorPage {
  const { error } = input;
  const label = statusLabel(error.status, error.substatus);
  const title = `HTTP Error ${label} - ${reasonPhrase(error.status)}`;
  let details = '';
  if (showsDetails(input.settings, input.loopback)) {
    const rows: [string, string][] = [
      ['Reason', error.reason],
      ['Stage', input.stage ?? '-'],
      ['Request', `${input.method} ${input.url}`],
      ['Physical path', input.physicalPath ?? '-'],
      ['Error code', `${label} (win32 ${error.win32Status})`],
      ['Trace id', input.traceId],
    ];
    details =
      '<h3>Detailed error information (shown because the request came from this machine)</h3><table>' +
      rows.map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(v)}</td></tr>`).join('') +
      '</table>';
  }
  const html =
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title>` +
    '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{color:#a00;font-size:1.4em}' +
    'th{text-align:left;padding-right:1em;vertical-align:top}td{font-family:monospace;white-space:pre-wrap}</style></head>' +
    `<body><h1>${title}</h1><p>${escapeHtml(describe(error.status, error.substatus))}</p>${details}</body></html>\n`;
  return { contentType: 'text/html; charset=utf-8', body: Buffer.from(html) };
}

/** Custom pages are read once per configuration generation; a missing file falls back to the built-in page. */
export class CustomErrorPages {
  private readonly cache = new Map<string, Promise<Buffer | undefined>>();

  constructor(private readonly onMissing: (file: string, err: Error) => void) {}

  async render(input: ErrorPageInput): Promise<ErrorPage> {
    const pages = input.settings?.pages;
    if (pages && !(input.settings?.errorMode === 'Detailed' || (input.settings?.errorMode !== 'Custom' && input.loopback))) {
      const file = pages[statusLabel(input.error.status, input.error.substatus)] ?? pages[String(input.error.status)];
      if (file) {
        const body = await this.read(file);
        if (body) return { contentType: 'text/html; charset=utf-8', body };
      }
    }
    return builtInPage(input);
  }

  private read(file: string): Promise<Buffer | undefined> {
    let entry = this.cache.get(file);
    if (!entry) {
      entry = readFile(file).catch((err: Error) => {
        this.onMissing(file, err);
        return undefined;
      });
      this.cache.set(file, entry);
    }
    return entry;
  }
}
