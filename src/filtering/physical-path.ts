/**
 * URL → file system, by path arithmetic only (symlinks are the static handler's file cache's concern).
 *
 * The segments come from parseRequestTarget, which already guarantees they cannot leave the root: no '.', '..',
 * '/', '\', NUL or empty segment. The assertions below restate those guarantees where they are relied on, so a
 * future change that weakens the parser fails loudly here instead of serving a file outside the web root.
 * They throw because a violation is a bug in Persona, not bad input from a client.
 */
import path from 'node:path';
import { AssertionError } from 'node:assert';

/** Joins a canonical URL remainder (segments) to a physical root; the result is always inside root (or root itself). */
export function physicalPathFor(root: string, segments: readonly string[]): string {
  const base = path.resolve(root);
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\0')) {
      throw new AssertionError({ message: `physicalPathFor: segment ${JSON.stringify(segment)} is not canonical; the request parser let it through` });
    }
  }
  const joined = path.join(base, ...segments);
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  if (joined !== base && !joined.startsWith(prefix)) {
    throw new AssertionError({ message: `physicalPathFor: ${JSON.stringify(joined)} is outside the root ${JSON.stringify(base)}` });
  }
  return joined;
}
