/** `persona explain` as text: the sections in the order issue 6 lists them, each decision with its reason. */
import { formatUrlReport } from '../config/show.js';
import type { Explanation } from './model.js';

export function renderExplanation(e: Explanation): string {
  const out: string[] = [];
  const section = (title: string): void => {
    out.push('', `== ${title}`);
  };
  const who = e.request.user ? `${e.request.user} with ${e.request.scheme}` : `anonymous (${e.request.scheme})`;
  out.push(`persona explain: ${e.request.method} ${e.request.url} as ${who}`);

  section('1. Site, application, virtual directory and effective configuration');
  out.push(formatUrlReport(e.config));

  section('2. Request filtering');
  out.push(e.filtering.verdict);

  section('3. Challenges');
  if (e.challenges.offered.length === 0) out.push('(none offered)');
  for (const line of e.challenges.offered) out.push(`WWW-Authenticate: ${line}`);
  out.push(`A browser picks: ${e.challenges.browserPicks ?? 'nothing'} — ${e.challenges.why}`);

  section(`4. The login (${e.login.scheme})`);
  if (!e.login.ok) out.push(`Refused${e.login.status ? ` with ${e.login.status}` : ''}: ${e.login.reason}`);
  else {
    const t = e.login.token!;
    out.push(
      e.login.reason,
      `User               ${t.user.name} [${t.user.sid}]`,
      `Groups             ${t.groups.map((g) => `${g.name} [${g.sid}]`).join('\n                   ')}`,
      `Logon type         ${t.logonType}, package ${t.authPackage}`,
      `Privileges         ${t.privileges.join(', ') || '(none)'}`,
      `Delegable          ${t.delegable ? 'yes' : 'no'} — ${t.delegation}`,
      `OS account mapping ${t.osAccount ?? '(none)'}`,
      `Kept               ${t.caching}`,
    );
  }

  section('5. Access checks');
  if (!e.access) out.push(e.login.ok ? 'not reached: request filtering refused the URL' : 'not reached: the login fails');
  else {
    const a = e.access;
    out.push(`Handler            ${a.handler.reason}${a.handler.requiredAccess ? `; needs access flag "${a.handler.requiredAccess}"` : ''}`);
    out.push(`Access flags       ${a.accessFlags.allowed ? 'allowed' : 'refused'}: ${a.accessFlags.reason}`);
    if (a.acl) {
      out.push(`ACL of ${a.acl.path}, asking for ${a.acl.desired}:`);
      for (const step of a.acl.walk) out.push(`  ${step.decided ? '→' : ' '} ${step.ace.padEnd(48)} ${step.effect.padEnd(28)} (${step.from})`);
      out.push(`  ${a.acl.reason}`);
    }
    out.push(`Result             ${a.status}${a.status === '200' ? '' : ` — ${a.reason}`}`);
  }

  section('6. Who runs the code');
  for (const c of e.code) {
    const os = c.os ? `${c.os.account}${c.os.uid === null ? ' (no such OS account here)' : ` uid=${c.os.uid} gid=${c.os.gid} groups=${c.os.groups.join(',')}`}` : '-';
    out.push(`${c.code}`, `    as ${c.identity}; OS account ${os}`);
    if (c.refused) out.push(`    refused: ${c.refused}`);
    out.push(`    why: ${c.reason}`, `    network: ${c.network}`);
  }
  out.push(`(${e.processModel})`);

  section('7. With the other enabled schemes');
  if (e.otherSchemes.length === 0) out.push('(no other scheme is enabled for this URL)');
  for (const s of e.otherSchemes) out.push(`${s.scheme.padEnd(10)} ${s.summary}`);
  return out.join('\n');
}
