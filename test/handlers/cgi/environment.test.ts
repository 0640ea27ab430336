import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CGI_PATH, cgiEnvironment, type CgiEnvironmentInput } from '../../../src/handlers/cgi/environment.js';

const BASE: CgiEnvironmentInput = {
  method: 'POST',
  httpVersion: '1.1',
  rawHeaders: ['Host', 'www.example.test:8080', 'User-Agent', 'curl/8', 'Content-Type', 'text/plain', 'Content-Length', '5'],
  scriptName: '/cgi-bin/env.cgi',
  pathInfo: '/extra/path',
  pathTranslated: '/srv/www/extra/path',
  queryString: 'a=1&b=%20',
  requestUri: '/cgi-bin/env.cgi/extra/path?a=1&b=%20',
  scriptFilename: '/srv/www/cgi-bin/env.cgi',
  documentRoot: '/srv/www',
  serverName: 'www.example.test',
  serverPort: 8080,
  serverAddress: '127.0.0.1',
  remoteAddress: '127.0.0.2',
  remotePort: 51234,
  secure: false,
  authType: 'Basic',
  userName: 'MACHINE\\bob',
  logonUser: 'MACHINE\\bob',
  contentLength: 5,
  contentType: 'text/plain',
  serverSoftware: 'Persona/0.1.0',
};

test('RFC 3875 meta-variables, IIS additions and what php-cgi needs', () => {
  const env = cgiEnvironment(BASE);
  assert.deepEqual(
    { ...env },
    {
      AUTH_TYPE: 'Basic',
      AUTH_USER: 'MACHINE\\bob',
      CONTENT_LENGTH: '5',
      CONTENT_TYPE: 'text/plain',
      DOCUMENT_ROOT: '/srv/www',
      GATEWAY_INTERFACE: 'CGI/1.1',
      HTTPS: 'off',
      HTTP_HOST: 'www.example.test:8080',
      HTTP_USER_AGENT: 'curl/8',
      LOGON_USER: 'MACHINE\\bob',
      PATH: CGI_PATH,
      PATH_INFO: '/extra/path',
      PATH_TRANSLATED: '/srv/www/extra/path',
      QUERY_STRING: 'a=1&b=%20',
      REDIRECT_STATUS: '200',
      REMOTE_ADDR: '127.0.0.2',
      REMOTE_HOST: '127.0.0.2',
      REMOTE_PORT: '51234',
      REMOTE_USER: 'MACHINE\\bob',
      REQUEST_METHOD: 'POST',
      REQUEST_URI: '/cgi-bin/env.cgi/extra/path?a=1&b=%20',
      SCRIPT_FILENAME: '/srv/www/cgi-bin/env.cgi',
      SCRIPT_NAME: '/cgi-bin/env.cgi',
      SERVER_ADDR: '127.0.0.1',
      SERVER_NAME: 'www.example.test',
      SERVER_PORT: '8080',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_SOFTWARE: 'Persona/0.1.0',
    },
  );
});

test('anonymous requests: AUTH_TYPE and REMOTE_USER are set and empty, as IIS does', () => {
  const env = cgiEnvironment({ ...BASE, authType: '', userName: '', logonUser: '' });
  assert.equal(env['AUTH_TYPE'], '');
  assert.equal(env['REMOTE_USER'], '');
  assert.equal(env['AUTH_USER'], '');
  assert.equal(env['LOGON_USER'], '');
});

test('LOGON_USER and AUTH_USER are taken separately', () => {
  const env = cgiEnvironment({ ...BASE, userName: 'alice@example.test', logonUser: 'MACHINE\\alice' });
  assert.equal(env['AUTH_USER'], 'alice@example.test');
  assert.equal(env['REMOTE_USER'], 'alice@example.test');
  assert.equal(env['LOGON_USER'], 'MACHINE\\alice');
});

test('no body: no CONTENT_LENGTH; no PATH_INFO: neither it nor PATH_TRANSLATED; QUERY_STRING always; HTTPS on over TLS', () => {
  const env = cgiEnvironment({ ...BASE, method: 'GET', contentLength: undefined, contentType: undefined, pathInfo: '', queryString: '', secure: true, rawHeaders: [] });
  assert.equal('CONTENT_LENGTH' in env, false);
  assert.equal('CONTENT_TYPE' in env, false);
  assert.equal('PATH_INFO' in env, false);
  assert.equal('PATH_TRANSLATED' in env, false);
  assert.equal(env['QUERY_STRING'], '');
  assert.equal(env['HTTPS'], 'on');
  assert.equal('CONTENT_LENGTH' in cgiEnvironment({ ...BASE, contentLength: 0 }), false, 'a zero-length body is no body (RFC 3875 §4.1.2)');
});

test('credentials, Proxy (httpoxy) and the content fields never become HTTP_* variables', () => {
  const env = cgiEnvironment({
    ...BASE,
    rawHeaders: [
      'Authorization', 'Basic Ym9iOnNlY3JldA==',
      'proxy-authorization', 'Basic eDp5',
      'Proxy', 'http://evil.test:3128',
      'Content-Length', '5',
      'Content-Type', 'text/plain',
      'X-Kept', 'yes',
    ],
  });
  const names = Object.keys(env).filter((n) => n.startsWith('HTTP_'));
  assert.deepEqual(names, ['HTTP_X_KEPT']);
  assert.equal(Object.values(env).some((v) => v.includes('Ym9iOnNlY3JldA==')), false);
});

test('repeated headers are joined with ", " (Cookie with "; "); names are upper-cased with _ for -', () => {
  const env = cgiEnvironment({
    ...BASE,
    rawHeaders: ['Accept', 'text/html', 'x-multi-word-name', 'v', 'ACCEPT', 'text/plain', 'Cookie', 'a=1', 'cookie', 'b=2'],
  });
  assert.equal(env['HTTP_ACCEPT'], 'text/html, text/plain');
  assert.equal(env['HTTP_X_MULTI_WORD_NAME'], 'v');
  assert.equal(env['HTTP_COOKIE'], 'a=1; b=2');
});

test('header names that would be ambiguous or invalid as environment names are skipped', () => {
  const env = cgiEnvironment({
    ...BASE,
    rawHeaders: ['X_Forwarded_For', '6.6.6.6', 'X-Forwarded-For', '10.0.0.1', 'X.Dotted', '1', 'X!Bang', '1', 'Ünïcode', '1'],
  });
  assert.equal(env['HTTP_X_FORWARDED_FOR'], '10.0.0.1', 'an underscore spelling cannot forge a header a proxy set');
  assert.deepEqual(
    Object.keys(env).filter((n) => n.startsWith('HTTP_')),
    ['HTTP_X_FORWARDED_FOR'],
  );
});

test('UTF-8 header bytes (latin1 characters from Node) reach the script as the same bytes', () => {
  const utf8 = Buffer.from('Zoë', 'utf8').toString('latin1');
  const env = cgiEnvironment({ ...BASE, rawHeaders: ['X-Name', utf8] });
  assert.equal(env['HTTP_X_NAME'], 'Zoë');
});

test('values containing NUL are left out (a C environment cannot carry them)', () => {
  const env = cgiEnvironment({ ...BASE, pathInfo: '/a\0b', rawHeaders: ['X-Nul', 'a\0b'] });
  assert.equal('PATH_INFO' in env, false);
  assert.equal('HTTP_X_NUL' in env, false);
});

test('the result is a plain object: a header named like an Object property is just a variable', () => {
  const env = cgiEnvironment({ ...BASE, rawHeaders: ['__proto__', 'x', 'Constructor', 'y'] });
  assert.equal(Object.getPrototypeOf(env), Object.prototype);
  assert.equal(env['HTTP_CONSTRUCTOR'], 'y');
});

test('property: for any headers, every variable is a valid name with a NUL-free value, and nothing is withheld wrongly', () => {
  const name = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/);
  const value = fc.string({ maxLength: 40 });
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 20 }), (pairs) => {
      const env = cgiEnvironment({ ...BASE, rawHeaders: pairs.flat() });
      for (const [k, v] of Object.entries(env)) {
        assert.match(k, /^[A-Z][A-Z0-9_]*$/);
        assert.equal(v.includes('\0'), false);
      }
      for (const [k] of pairs) {
        const lower = k.toLowerCase();
        const variable = `HTTP_${k.toUpperCase().replace(/-/g, '_')}`;
        if (['authorization', 'proxy-authorization', 'proxy'].includes(lower)) assert.equal(variable in env, false);
      }
      // The meta-variables are never overwritten by a header.
      assert.equal(env['GATEWAY_INTERFACE'], 'CGI/1.1');
      assert.equal(env['PATH'], CGI_PATH);
      assert.equal(env['REMOTE_USER'], 'MACHINE\\bob');
    }),
    { numRuns: 500 },
  );
});
