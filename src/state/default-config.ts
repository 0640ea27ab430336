/**
 * The embedded default configuration written on first run. Paths are relative to the configuration file, so the
 * state folder can be moved as a whole.
 */
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../version.js';

export const DEMO_PORT = 8080;

/** The demo site's port: 8080, or $PERSONA_DEMO_PORT when 8080 is taken (read only when the file is first written). */
export function demoPort(): number {
  const fromEnv = Number(process.env.PERSONA_DEMO_PORT);
  return Number.isInteger(fromEnv) && fromEnv > 0 && fromEnv < 65536 ? fromEnv : DEMO_PORT;
}

export function defaultConfigText(): string {
  const schema = fileURLToPath(new URL('schema/persona.schema.json', PACKAGE_ROOT));
  return `# yaml-language-server: $schema=${schema}
# Persona configuration, created on first run. Check it with \`persona config test\`; apply changes with
# \`persona reload\` (or SIGHUP). Relative paths are relative to this file.
#
# Inheritance works as in IIS: \`defaults\` (server) → site → application / virtual directory → location.
# A property set at a level wins for that level and everything below it.

server:
  logging:
    directory: logs          # W3C logs in logs/W3SVC<site id>/, operational log in logs/persona.log
    level: info

defaults:
  accessFlags: [read]        # read, write, script, execute, source, browse

sites:
  - name: Demo
    id: 1
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${demoPort()} }
    physicalPath: demo/wwwroot
    settings:
      authentication:
        # Anonymous requests run as IUSR; where the ACL denies IUSR (the secure folder) the browser is asked to log on.
        anonymous: { enabled: true, userName: IUSR }
        ntlm: { enabled: true }                         # Windows challenge/response, one handshake per connection
        digest: { enabled: true }                       # RFC 7616: SHA-256 and MD5; realm = this machine's name
        basic: { enabled: true, realm: Persona demo }   # over plain HTTP only from this machine
      httpErrors:
        # Remote clients get this page for a plain 404; clients on this machine get the detailed page.
        pages: { "404": demo/errors/404.html }
    locations:
      - path: /files
        settings:
          accessFlags: [read, browse]     # directory listing allowed here only
      - path: /files/private
        settings:
          accessFlags: []                 # nothing may be read here: 403.2
`;
}
