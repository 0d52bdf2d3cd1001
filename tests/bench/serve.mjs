// The benchmark's static server, in a process of its own so that the Playwright client's work
// (in tests/bench/run.mjs) never delays a response: tests/e2e/server.mjs (the repository root,
// no compression, `cache-control: no-store`) on 127.0.0.1 and an ephemeral port. Prints its
// origin on the first line of stdout; stops when stdin closes or on SIGTERM/SIGINT.

import { startServer } from "../e2e/server.mjs";

const server = await startServer();
process.stdout.write(`${server.origin}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
