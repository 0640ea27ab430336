/**
 * The MIME map: file extension → Content-Type, as IIS's `system.webServer/staticContent`.
 *
 * IIS serves only extensions it has a MIME type for and answers 404.3 for the rest, so a file dropped into
 * the web root (a backup, a key, a database) is not handed out just because it exists. Persona keeps that:
 * `contentTypeFor` returns undefined for an unmapped extension and the caller refuses the request.
 */

const UTF8 = '; charset=utf-8';

/**
 * Like IIS's applicationHost defaults, modernised; textual types carry their charset. Left out on purpose:
 * extensions that are usually secrets or source on a Linux host (.pem, .key, .log, .ts, .env, .sql…).
 */
const BUILTIN: Readonly<Record<string, string>> = {
  '.html': `text/html${UTF8}`,
  '.htm': `text/html${UTF8}`,
  '.xhtml': `application/xhtml+xml${UTF8}`,
  '.css': `text/css${UTF8}`,
  '.js': `text/javascript${UTF8}`,
  '.mjs': `text/javascript${UTF8}`,
  '.cjs': `text/javascript${UTF8}`,
  '.json': `application/json${UTF8}`,
  '.map': `application/json${UTF8}`,
  '.jsonld': `application/ld+json${UTF8}`,
  '.webmanifest': `application/manifest+json${UTF8}`,
  '.txt': `text/plain${UTF8}`,
  '.text': `text/plain${UTF8}`,
  '.md': `text/markdown${UTF8}`,
  '.markdown': `text/markdown${UTF8}`,
  '.csv': `text/csv${UTF8}`,
  '.tsv': `text/tab-separated-values${UTF8}`,
  '.xml': `text/xml${UTF8}`,
  '.xsl': `text/xml${UTF8}`,
  '.xsd': `text/xml${UTF8}`,
  '.dtd': `application/xml-dtd${UTF8}`,
  '.rss': `application/rss+xml${UTF8}`,
  '.atom': `application/atom+xml${UTF8}`,
  '.ics': `text/calendar${UTF8}`,
  '.vcf': `text/vcard${UTF8}`,
  '.vtt': `text/vtt${UTF8}`,
  '.svg': `image/svg+xml${UTF8}`,
  '.png': 'image/png',
  '.apng': 'image/apng',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.jpe': 'image/jpeg',
  '.jfif': 'image/jpeg',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.ico': 'image/x-icon',
  '.cur': 'image/x-icon',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.heic': 'image/heic',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.eot': 'application/vnd.ms-fontobject',
  '.pdf': 'application/pdf',
  '.rtf': 'application/rtf',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.ppt': 'application/vnd.ms-powerpoint',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.odt': 'application/vnd.oasis.opendocument.text',
  '.ods': 'application/vnd.oasis.opendocument.spreadsheet',
  '.epub': 'application/epub+zip',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.bz2': 'application/x-bzip2',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.7z': 'application/x-7z-compressed',
  '.tar': 'application/x-tar',
  '.rar': 'application/vnd.rar',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.oga': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/opus',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.mid': 'audio/midi',
  '.midi': 'audio/midi',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.webm': 'video/webm',
  '.ogv': 'video/ogg',
  '.mov': 'video/quicktime',
  '.avi': 'video/x-msvideo',
  '.mpeg': 'video/mpeg',
  '.mpg': 'video/mpeg',
  '.mkv': 'video/x-matroska',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.iso': 'application/octet-stream',
  '.dmg': 'application/octet-stream',
  '.msi': 'application/octet-stream',
  '.exe': 'application/octet-stream',
  '.jar': 'application/java-archive',
  '.apk': 'application/vnd.android.package-archive',
  '.crt': 'application/x-x509-ca-cert',
  '.cer': 'application/pkix-cert',
  '.swf': 'application/x-shockwave-flash',
};

const merged = new WeakMap<Readonly<Record<string, string>>, ReadonlyMap<string, string>>();

/**
 * The Content-Type for a file name (or path), or undefined when its extension is not mapped. `mimeMap`
 * holds the configured overrides: extensions with their dot, case-insensitive; an empty value removes a
 * mapping; "." maps names without an extension.
 */
export function contentTypeFor(fileName: string, mimeMap: Readonly<Record<string, string>>): string | undefined {
  let table = merged.get(mimeMap);
  if (table === undefined) {
    table = mergeTable(mimeMap);
    merged.set(mimeMap, table);
  }
  return table.get(extensionOf(fileName));
}

/**
 * The extension as IIS sees it (Path.GetExtension): from the last dot of the last segment, lower-cased;
 * "." when there is none or the name ends with a dot, so that "." in the map covers both.
 */
export function extensionOf(fileName: string): string {
  const slash = fileName.lastIndexOf('/');
  const dot = fileName.lastIndexOf('.');
  if (dot <= slash || dot === fileName.length - 1) return '.';
  return fileName.slice(dot).toLowerCase();
}

function mergeTable(mimeMap: Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  const table = new Map<string, string>(Object.entries(BUILTIN));
  for (const [extension, type] of Object.entries(mimeMap)) {
    const key = extension.toLowerCase();
    if (type === '') table.delete(key);
    else table.set(key, type);
  }
  return table;
}
