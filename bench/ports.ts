/**
 * Free loopback ports, chosen by the OS: listen on port 0, read the port, close. Another process could take it
 * before the server binds; on an otherwise idle machine that does not happen, and a server that fails to bind
 * says so in its log and fails the readiness check.
 */
import { createServer, type AddressInfo } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
