/**
 * A throw-away folder holding what configurations refer to (web roots, error pages, TLS files, a filter
 * module), so that tests exercise the real file checks instead of mocking the file system.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CERT_PEM, ENCRYPTED_KEY_PEM, KEY_PEM, OTHER_KEY_PEM } from './tls-fixtures.js';

export interface Tree {
  readonly dir: string;
  /** The configuration file's path (not written: tests pass text to loadConfigText, or write it). */
  readonly file: string;
  write(relative: string, content: string | Buffer): string;
}

export function makeTree(t: TestContext): Tree {
  const dir = mkdtempSync(join(tmpdir(), 'persona-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (relative: string, content: string | Buffer): string => {
    const file = join(dir, relative);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
    return file;
  };
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'app'));
  mkdirSync(join(dir, 'shared'));
  write('www/index.html', '<p>hello</p>');
  write('errors/404.html', '<p>not here</p>');
  write('tls/cert.pem', CERT_PEM);
  write('tls/key.pem', KEY_PEM);
  write('tls/other-key.pem', OTHER_KEY_PEM);
  write('tls/encrypted-key.pem', ENCRYPTED_KEY_PEM);
  write('filters/audit.js', 'export default {};\n');
  write('notes.txt', 'not a certificate\n');
  return { dir, file: join(dir, 'persona.yaml'), write };
}

/** A configuration that passes every check, for tests to break one thing at a time. */
export const VALID = `$schema: ./schema/persona.schema.json
server:
  logging:
    directory: logs
    level: info
  filters:
    - name: audit
      module: filters/audit.js
defaults:
  accessFlags: [read]
  httpErrors:
    pages:
      404: errors/404.html
sites:
  - name: Default
    id: 1
    bindings:
      - protocol: http
        ip: '*'
        port: 8080
      - { protocol: https, ip: 127.0.0.1, port: 8443, host: WWW.Example.com }
    tls:
      certificate: tls/cert.pem
      key: tls/key.pem
    physicalPath: www
    applications:
      - path: /app
        physicalPath: app
        virtualDirectories:
          - path: /shared
            physicalPath: shared
    virtualDirectories:
      - path: /files
        physicalPath: shared
    locations:
      - path: /app/admin
        settings:
          accessFlags: [read, script]
          httpErrors:
            pages: { 404.10: errors/404.html }
`;
