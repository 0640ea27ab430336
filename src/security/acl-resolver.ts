/**
 * The effective DACL of a physical path, from the descriptors stored for it and its ancestors. Persona stores only
 * explicit descriptors (keyed by canonical absolute path); inheritance is computed here (inheritance.ts) and cached
 * until any ACL changes — the store's ACL epoch, bumped by every change, is compared on each use, so a change made
 * with `persona acl` in another process applies to the next request.
 */
import path from 'node:path';
import type { AccountStore } from '../accounts/types.js';
import type { AccessDecision, DescriptorLink } from './acl-types.js';
import { accessCheck } from './access-check.js';
import type { Sid } from './sid.js';
import { effectiveDacl, type EffectiveDacl } from './inheritance.js';

const MAX_CACHED = 10_000;

/** Every path from the file-system root down to `target`, root first. */
export function ancestry(target: string): string[] {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  const out: string[] = [path.sep];
  for (let i = 0; i < parts.length; i++) out.push(path.sep + parts.slice(0, i + 1).join(path.sep));
  return out;
}

export class AclResolver {
  private epoch = -1;
  private version = '';
  private readonly cache = new Map<string, EffectiveDacl>();
  private decisions = new WeakMap<object, Map<string, AccessDecision>>();

  constructor(private readonly store: AccountStore) {}

  /** Drops every cached DACL and decision when any ACL changed (in this process or another). */
  private refresh(): void {
    const version = this.store.changeVersion();
    if (version === this.version) return;
    this.version = version;
    const epoch = this.store.aclEpoch();
    if (epoch !== this.epoch) {
      this.cache.clear();
      this.decisions = new WeakMap();
      this.epoch = epoch;
    }
  }

  /**
   * The access check for a token on a path, memoised per token (tokens are immutable and cached) until an ACL
   * changes: a repeated request by the same identity costs a map lookup.
   */
  check(token: object, sids: ReadonlySet<Sid>, target: string, isContainer: boolean, desired: number): AccessDecision {
    const dacl = this.effective(target, isContainer);
    let perToken = this.decisions.get(token);
    const key = `${desired}:${isContainer ? 'd' : 'f'}${target}`;
    const known = perToken?.get(key);
    if (known) return known;
    const decision = accessCheck(sids, dacl, desired);
    if (!perToken) this.decisions.set(token, (perToken = new Map()));
    if (perToken.size < 1000) perToken.set(key, decision);
    return decision;
  }

  chain(target: string, isContainer: boolean): DescriptorLink[] {
    const paths = ancestry(target);
    return paths.map((p, i) => ({ path: p, isContainer: i < paths.length - 1 || isContainer, descriptor: this.store.getDescriptor(p) }));
  }

  effective(target: string, isContainer: boolean): EffectiveDacl {
    this.refresh();
    const key = `${isContainer ? 'd' : 'f'}${target}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = effectiveDacl(this.chain(target, isContainer));
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, hit);
    }
    return hit;
  }
}
