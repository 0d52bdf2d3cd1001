// The benchmark's static server, in a process of its own so that the Playwright client's work
// (tests/bench/run.mjs) never delays a response. Serves the repository root (GET and HEAD only,
// nothing outside the root, no directory listings, `cache-control: no-store`) on 127.0.0.1 and
// two ephemeral ports:
//
//   identity  every body as it is on disk (no compression): what the transfer table measures;
//   gzip      every body gzip-compressed (zlib level 9, `content-encoding: gzip`) when the request
//             accepts it: what a static host that compresses would send.
//
// So the lab is /www/index.html (importing ../pkg/haapi_lab.js), the benchmark's pages are
// /tests/bench/pages/*.html (importing /pkg/haapi_lab.js), and jose's browser build is
// /node_modules/jose/dist/webapi/. With `--lab-root DIR`, /www/ and /pkg/ come from DIR instead
// (another checkout with its own pkg/ build), so that an older build can be measured with these
// pages and this runner.
//
//   node tests/bench/serve.mjs [--lab-root DIR]
//
// Prints `{"identity": "<origin>", "gzip": "<origin>"}` on the first line of stdout; stops when
// stdin closes or on SIGTERM/SIGINT. By hand: open <identity origin>/tests/bench/pages/bench.html.

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

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

/** The file behind a site path: /www/ and /pkg/ from `labRoot`, everything else from the repository. */
export function fileFor(path, labRoot = REPO_ROOT) {
  const lab = path === "/www" || path.startsWith("/www/") || path === "/pkg" || path.startsWith("/pkg/");
  const root = lab ? labRoot : REPO_ROOT;
  const file = normalize(join(root, path));
  return file === root || file.startsWith(root + sep) ? file : null;
}

const gzipped = new Map(); // file -> { mtimeMs, size, body }

function gzipOf(file, info, body) {
  const hit = gzipped.get(file);
  if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.body;
  const out = gzipSync(body, { level: 9 });
  gzipped.set(file, { mtimeMs: info.mtimeMs, size: info.size, body: out });
  return out;
}

function listen({ labRoot, compress }) {
  const server = createServer(async (req, res) => {
    const headers = { "cache-control": "no-store", "x-content-type-options": "nosniff" };
    const send = (status, body, type = "text/plain; charset=utf-8", extra = {}) => {
      res.writeHead(status, { ...headers, "content-type": type, "content-length": body.length, ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, Buffer.from("method not allowed\n"));
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
    } catch {
      return send(400, Buffer.from("bad path\n"));
    }
    if (path === "/") {
      res.writeHead(302, { ...headers, location: "/www/index.html" });
      return res.end();
    }
    const file = fileFor(path, labRoot);
    if (!file) return send(403, Buffer.from("forbidden\n"));
    try {
      const info = await stat(file);
      if (!info.isFile()) return send(404, Buffer.from("not found\n"));
      const body = await readFile(file);
      const type = MIME[extname(file).toLowerCase()] ?? "application/octet-stream";
      if (compress && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")) {
        return send(200, gzipOf(file, info, body), type, { "content-encoding": "gzip", vary: "accept-encoding" });
      }
      send(200, body, type, compress ? { vary: "accept-encoding" } : {});
    } catch {
      send(404, Buffer.from("not found\n"));
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok(server));
  });
}

function parseArgs(argv) {
  let labRoot = REPO_ROOT;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--lab-root" && argv[i + 1]) labRoot = resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]} (usage: node tests/bench/serve.mjs [--lab-root DIR])`);
  }
  return { labRoot };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { labRoot } = parseArgs(process.argv.slice(2));
  const servers = [await listen({ labRoot, compress: false }), await listen({ labRoot, compress: true })];
  const [identity, gzip] = servers.map((s) => `http://127.0.0.1:${s.address().port}`);
  process.stdout.write(`${JSON.stringify({ identity, gzip })}\n`);
  const stop = async () => {
    await Promise.all(servers.map((s) => new Promise((ok) => (s.closeAllConnections?.(), s.close(() => ok())))));
    process.exit(0);
  };
  process.stdin.on("end", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
