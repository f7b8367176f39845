// A free loopback TCP port, for tests that start `liverec serve`.
import { createServer } from "node:net";

/** Resolves to a port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
