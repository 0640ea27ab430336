/**
 * executeRequestHandler for a JS handler module: decide the identity (identity.ts, the ASP.NET <identity> rules),
 * load the module (once per generation, its start hook run as the process identity), and run
 * `handle(req, res, persona)` inside that identity's async context. The module reads the request body itself.
 *
 * A handler that throws before sending headers gets a 500 with the error as the reason (shown only to loopback
 * clients, as every reason); after headers the response cannot be repaired, so the connection is destroyed and
 * the client sees a truncated response rather than a well-formed wrong one.
 */
import path from 'node:path';
import type { UrlResolution } from '../../config/compile.js';
import { requestPool } from '../../identity/request-process-identity.js';
import type { RequestContext } from '../../pipeline/context.js';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import type { ModuleHandler } from '../../pipeline/stages/map-request-handler.js';
import type { Generation } from '../../server/generation.js';
import { logonUser } from '../../security/logon.js';
import { processIdentityToken } from '../../security/process-identity.js';
import type { Token } from '../../security/token.js';
import type { CurrentIdentity } from './contract.js';
import { createHandlerContext } from './handler-context.js';
import { runAs } from './identity-context.js';
import { moduleIdentity, type FixedLogon } from './identity.js';
import { loadHandlerModule, messageOf } from './loader.js';

const processTokens = new WeakMap<Generation, Map<string, Token>>();
const fixedLogons = new WeakMap<Generation, Map<string, Promise<FixedLogon>>>();

export async function executeModule(ctx: RequestContext, handler: ModuleHandler, token: Token, resolution: UrlResolution, generation: Generation): Promise<HttpError | null> {
  const { req, res, connection } = ctx;
  const security = generation.security;
  const spawner = generation.spawner;
  const { pool, poolAccount } = requestPool(generation, resolution);
  const processToken = processTokenFor(generation, pool.name, security.processUser);
  const settings = handler.settings.identity;
  const fixed = settings.userName === '' ? undefined : await fixedLogon(generation, settings.userName, settings.password);
  const who = moduleIdentity(settings, token, processToken, fixed);
  if (!who.ok) return httpError(who.status, 0, who.reason);
  ctx.trace?.record('executeRequestHandler', `module as ${who.token.user.name}`, who.reason);

  const moduleFile = handler.module;
  const common = {
    processToken,
    security,
    spawner,
    pool,
    poolAccount,
    defaultCwd: path.dirname(moduleFile),
    onDenied: (denied: Token, object: string, decision: { desired: number; reason: string }) =>
      security.audit.write({
        eventId: 4656,
        account: denied.user.name,
        domain: '',
        sid: denied.user.sid,
        package: denied.authPackage,
        clientAddress: connection.remoteAddress,
        object,
        desiredAccess: `0x${decision.desired.toString(16)}`,
        reason: `handler module ${moduleFile}: ${decision.reason}`,
        traceId: ctx.traceId,
      }),
  };
  const self: CurrentIdentity = { token: processToken, reason: `the application start hook runs as the process identity ${processToken.user.name}` };
  const loaded = await loadHandlerModule(generation, moduleFile, {
    // Start code belongs to the application, not to the request that happened to come first.
    runStart: async (start) => {
      const persona = createHandlerContext({ ...common, requestToken: processToken, identity: self, clientAddress: '127.0.0.1' });
      return runAs(self, () => start(persona));
    },
    onFailure: (file, reason) => generation.log.error({ module: file, reason }, 'handler module unavailable'),
  });
  if (!loaded.ok) return httpError(500, 0, loaded.reason);

  const identity: CurrentIdentity = { token: who.token, reason: who.reason };
  const persona = createHandlerContext({ ...common, requestToken: token, identity, clientAddress: connection.remoteAddress });
  try {
    await runAs(identity, () => loaded.module.handle(req, res, persona));
  } catch (err) {
    if (!res.headersSent) return httpError(500, 0, `handler module ${moduleFile} failed: ${messageOf(err)}`);
    generation.log.error({ traceId: ctx.traceId, module: moduleFile, err: messageOf(err) }, 'handler module failed after sending headers; connection closed');
    req.socket.destroy();
    return null;
  }
  // Callback-style handlers return before they answer: the request lasts until the response ends (or the
  // connection closes), so logging and the pipeline's end see the real status.
  if (!res.writableEnded && !res.destroyed) {
    await new Promise<void>((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
    });
  }
  return null;
}

/** One process-identity token per pool and generation: the ACL resolver memoises decisions per token object. */
function processTokenFor(generation: Generation, pool: string, osUser: string): Token {
  let tokens = processTokens.get(generation);
  if (!tokens) processTokens.set(generation, (tokens = new Map()));
  let token = tokens.get(pool);
  if (!token) tokens.set(pool, (token = processIdentityToken(pool, osUser)));
  return token;
}

/**
 * The fixed account of identity.userName, logged on once per generation (ClearText, as IIS logs on configured
 * accounts); a failure is audited (4625) by logonUser and logged here once, then every request gets the 500.
 */
function fixedLogon(generation: Generation, userName: string, password: string): Promise<FixedLogon> {
  let logons = fixedLogons.get(generation);
  if (!logons) fixedLogons.set(generation, (logons = new Map()));
  // Keyed in memory only (never logged): two locations may name the same account with different passwords.
  const key = `${userName}\u0000${password}`;
  let pending = logons.get(key);
  if (!pending) {
    const { store, audit } = generation.security;
    pending = logonUser(store, { name: userName, domain: undefined, password, logonMethod: 'ClearText', authPackage: 'Basic', defaultLogonDomain: '', clientAddress: '127.0.0.1' }, audit).then(
      (result): FixedLogon => {
        if (result.ok) return { ok: true, token: result.token };
        generation.log.error({ userName, status: result.status, reason: result.reason }, 'identity.userName cannot log on');
        return { ok: false, reason: `${result.status}: ${result.reason}` };
      },
      (err: unknown): FixedLogon => ({ ok: false, reason: messageOf(err) }),
    );
    logons.set(key, pending);
  }
  return pending;
}
