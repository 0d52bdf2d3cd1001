// A tiny static server for the e2e tests: serves the repository root (so the page is
// /www/index.html and imports ../pkg/haapi_lab.js) on 127.0.0.1 and an ephemeral port.
// Only GET and HEAD, no directory listings, nothing outside the root.

import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** Starts the server; resolves to `{ origin, url(path), close() }`. */
/**
 * A TCP port on 127.0.0.1 that nothing listens on (free when asked; tests use it at once). Here,
 * with no browser driver imported, so the Firefox tests share it.
 */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createTcpServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => ok(port));
    });
  });
}

export async function startServer({ root = REPO_ROOT, port = 0 } = {}) {
  const server = createServer(async (req, res) => {
    const send = (status, body, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
    } catch {
      return send(400, "bad path\n");
    }
    if (path === "/") {
      res.writeHead(302, { location: "/www/index.html" });
      return res.end();
    }
    const file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return send(403, "forbidden\n");
    try {
      const info = await stat(file);
      if (!info.isFile()) return send(404, "not found\n");
      send(200, await readFile(file), MIME[extname(file).toLowerCase()] ?? "application/octet-stream");
    } catch {
      send(404, "not found\n");
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", ok);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: (p) => new URL(p, origin).href,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

// `node tests/e2e/server.mjs [port]`: serve the lab by hand.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await startServer({ port: Number(process.argv[2] ?? 8080) });
  console.log(`haapi-lab: ${s.url("/www/index.html")}`);
}
