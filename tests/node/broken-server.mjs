// A server that is broken on purpose, for tests (tests/node/broken.test.mjs, tests/e2e/broken.test.mjs):
// each case is an issuer of its own, http://127.0.0.1:PORT/case/NAME, whose discovery document
// (and, for `token`, whose token endpoint) answers in one broken way. Every answer allows any
// origin (CORS), except the `cors` case, which answers without it.
//
//   html         404 with a proxy's HTML error page
//   wrong-type   the discovery document labelled text/plain
//   truncated    Content-Length says more than is sent, then the connection closes
//   not-json     labelled application/json, but a form-encoded body
//   huge         a 2 MiB JSON body (over the 1 MiB cap)
//   redirect     302 to the same issuer with a trailing slash
//   unavailable  503 with Retry-After: 120 and an HTML page
//   slow         headers at once, then one byte every 200 ms, forever
//   silent       never answers
//   issuer       a discovery document that names another issuer
//   cors         a correct discovery document without Access-Control-Allow-Origin
//   token        discovery is right; the token endpoint answers with a 200 HTML login page

import { createServer } from "node:http";

export const CASES = ["html", "wrong-type", "truncated", "not-json", "huge", "redirect", "unavailable", "slow", "silent", "issuer", "cors", "token"];

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, content-type, dpop, accept, session-id",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-expose-headers": "retry-after, location, dpop-nonce, www-authenticate, set-session-id",
};

function metadata(origin, name, issuer = `${origin}/case/${name}`) {
  const base = `${origin}/case/${name}`;
  return { issuer, token_endpoint: `${base}/token`, registration_endpoint: `${base}/register`, authorization_endpoint: `${base}/authorize` };
}

/** Starts the server; resolves to `{ origin, issuer(name), close() }`. */
export async function startBrokenServer() {
  const open = new Set();
  const timers = new Set();
  let origin = "";
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const [, , name, ...rest] = path.split("/");
    const tail = rest.join("/");
    const headers = (extra = {}) => (name === "cors" ? extra : { ...CORS, ...extra });
    if (req.method === "OPTIONS") {
      res.writeHead(name === "cors" ? 404 : 204, headers());
      return res.end();
    }
    const json = (status, body, type = "application/json") => {
      res.writeHead(status, headers({ "content-type": type, "cache-control": "no-store" }));
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    const discovery = tail === ".well-known/openid-configuration";
    switch (discovery ? name : `${name}/${tail}`) {
      case "html":
        return json(404, "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><hr>nginx</body></html>", "text/html; charset=utf-8");
      case "wrong-type":
        return json(200, metadata(origin, name), "text/plain");
      case "truncated": {
        const body = JSON.stringify(metadata(origin, name));
        res.writeHead(200, headers({ "content-type": "application/json", "content-length": String(body.length) }));
        res.write(body.slice(0, 40));
        return setTimeout(() => res.destroy(), 20);
      }
      case "not-json":
        return json(200, "issuer=nope&token_endpoint=nope");
      case "huge":
        return json(200, { ...metadata(origin, name), padding: "x".repeat(2 * 1024 * 1024) });
      case "redirect":
        res.writeHead(302, headers({ location: `${origin}/case/redirect/.well-known/openid-configuration/` }));
        return res.end();
      case "unavailable":
        res.writeHead(503, headers({ "content-type": "text/html", "retry-after": "120" }));
        return res.end("<html><head><title>503 Service Unavailable</title></head><body>maintenance</body></html>");
      case "slow": {
        res.writeHead(200, headers({ "content-type": "application/json" }));
        res.write("{");
        const timer = setInterval(() => res.write(" "), 200);
        timers.add(timer);
        res.on("close", () => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
      case "silent":
        return; // never answers; closed by close()
      case "issuer":
        return json(200, metadata(origin, name, "https://elsewhere.example/oauth/v2/oauth-anonymous"));
      case "cors":
      case "token":
        return json(200, metadata(origin, name));
      case "token/token":
        return json(200, "<!doctype html><html><head><title>Sign in</title></head><body><form></form></body></html>", "text/html");
      default:
        return json(404, { error: "not_found", error_description: `no case at ${path}` });
    }
  });
  server.on("connection", (socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    issuer: (name) => `${origin}/case/${name}`,
    close: () =>
      new Promise((ok) => {
        for (const t of timers) clearInterval(t);
        for (const s of open) s.destroy();
        server.close(() => ok());
      }),
  };
}
