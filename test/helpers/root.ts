/**
 * Suites that must see code run as real OS accounts (CGI, FastCGI, the spawn broker, the launcher) create accounts
 * and switch identities, which only root can do. Run without root they fail with this reason — a skipped suite
 * would prove nothing; `npm test` runs as root on CI.
 */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('this suite needs root: it creates OS accounts and starts processes as them (run `npm test` as root, as CI does)');
  }
}
