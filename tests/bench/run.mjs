// The browser benchmark, headless: figures, never pass/fail on time (no timed assertion anywhere;
// the only time limit is a hang guard). Run by `bash scripts/bench.sh` (all) or
// `bash scripts/bench.sh --browser` (only this), or directly:
//
//   node tests/bench/run.mjs [--quick] [--loads 15] [--slow-loads 5] [--conditions local,slow,slow-gzip]
//                            [--batches 7] [--batch-ms 300] [--warm-up-ms 500] [--preload-experiment]
//                            [--lab-root DIR [--lab-name TEXT]] [--out NAME]
//
// In one run, one server process (tests/bench/serve.mjs: the repository root, `no-store`, one port
// that never compresses and one that gzips) and one Chromium (Debian's, through playwright-core):
//
//   1. module sizes: the five modules in pkg/ (client, client with the light simulator, light
//      simulator, whole simulator, tools), the .wasm and its
//      JavaScript, raw and gzip -9 (read from disk);
//   2. transfer of the first load of www/index.html, in simulator mode (the default configuration)
//      and in http mode (a #config= link with server.mode "http"): every response until the device
//      is ready and the network is idle, raw and gzip -9 of each body. In http mode no simulator
//      code (/pkg/sim-lite/, /pkg/sim/, /pkg/haapi_lab_with_sim*) may be requested: checked here and on every http-mode cold load (an error if it is);
//   3. cold loads, each in a fresh browser context (empty HTTP cache, cache disabled, no service
//      worker), the contenders interleaved in rotated order after one discarded warm-up round,
//      under each network condition:
//        local      loopback, no emulation, bodies uncompressed;
//        slow       Chromium's network emulation (CDP Network.emulateNetworkConditions): 1.6 Mbit/s
//                   down (200,000 bytes/s), 750 kbit/s up, 150 ms latency; bodies uncompressed;
//        slow-gzip  the same emulation, bodies gzip-compressed by the server (content-encoding);
//      contenders:
//        - www/index.html (simulator mode, and http mode) until interactive: window.haapiLab exists,
//          <html data-flow-state="idle" data-flow-busy="false">, #btn-run and #btn-next enabled;
//          and until the device is ready (#device-state shows it: Lab created, keys made; in
//          simulator mode this needs the simulator module), taken by a MutationObserver installed
//          before any page script;
//        - tests/bench/pages/bench-cold.html (?store=webcrypto, ?store=wasm) and bench-cold-jose.html
//          until the first signed DPoP proof (marks the pages take themselves; the proof is verified);
//        - with --preload-experiment: copies of the lab page and the two cold pages with
//          <link rel=modulepreload>/<link rel=preload> for their whole module graph (written to
//          tests/bench/generated/, not in git);
//      every time is performance.now() in the page: ms since the navigation started;
//   4. tests/bench/pages/bench.html: DPoP proofs per second (DpopProver "wasm" and "webcrypto" key
//      stores, hand-written WebCrypto, jose SignJWT, raw WebCrypto signatures) and the same with
//      crypto.subtle.sign stubbed; whole runs against the in-page simulator (new device and stored
//      client reused, up to authorize and to tokens through the HAAPI login; target for a new
//      device to tokens: <= 40 ms); interleaved batches, medians (see tests/bench/pages/bench.js).
//      No network emulation.
//
// jose is served from node_modules/jose/dist/webapi (npm devDependency, pinned by package-lock.json).
// --lab-root DIR serves /www/ and /pkg/ from another checkout (with its pkg/ built), so that an older
// build is measured by these pages and this runner (--lab-name: what to call it in the table,
// by default its git revision); --out NAME writes bench-results/NAME.txt/.json
// instead of bench-results/browser-latest.txt/.json (the table is also printed).
// tests/bench/compare.mjs prints two such .json results side by side.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { webcrypto } from "node:crypto";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];
const HANG_GUARD_MS = 180_000; // not a measurement: a page that never gets there is an error
const RESULTS = join(REPO_ROOT, "bench-results");
const GENERATED = join(REPO_ROOT, "tests", "bench", "generated");
const PAGES = "/tests/bench/pages";

/** Chromium's network emulation for the slow conditions: a phone on a slow mobile network. */
export const SLOW_NETWORK = Object.freeze({ offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 93_750 });

const CONDITIONS = {
  local: { id: "local", label: "local network (loopback, no emulation), bodies uncompressed", server: "identity", network: null },
  slow: { id: "slow", label: "emulated 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency; bodies uncompressed", server: "identity", network: SLOW_NETWORK },
  "slow-gzip": { id: "slow-gzip", label: "emulated 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency; bodies gzip -9 (content-encoding)", server: "gzip", network: SLOW_NETWORK },
};

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { batches: 7, batchMs: 300, warmUpMs: 500, loads: 15, slowLoads: 5, conditions: Object.keys(CONDITIONS), preloadExperiment: false, labRoot: REPO_ROOT, out: "browser-latest", quick: false };
  const num = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} needs a positive whole number, not ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--batches") o.batches = num(a, argv[++i]);
    else if (a === "--batch-ms") o.batchMs = num(a, argv[++i]);
    else if (a === "--warm-up-ms") o.warmUpMs = num(a, argv[++i]);
    else if (a === "--loads") o.loads = num(a, argv[++i]);
    else if (a === "--slow-loads") o.slowLoads = num(a, argv[++i]);
    else if (a === "--conditions") {
      o.conditions = String(argv[++i] ?? "").split(",").filter(Boolean);
      const bad = o.conditions.filter((c) => !(c in CONDITIONS));
      if (bad.length || o.conditions.length === 0) throw new Error(`--conditions takes a list of ${Object.keys(CONDITIONS).join(", ")}`);
    } else if (a === "--preload-experiment") o.preloadExperiment = true;
    else if (a === "--lab-root") {
      if (!argv[i + 1]) throw new Error("--lab-root needs a folder");
      o.labRoot = resolve(argv[++i]);
    } else if (a === "--lab-name") {
      o.labName = String(argv[++i] ?? "");
    } else if (a === "--out") {
      o.out = String(argv[++i] ?? "");
      if (!/^[\w.-]+$/.test(o.out)) throw new Error("--out needs a file name without a folder or an extension");
    } else if (a === "--quick") Object.assign(o, { quick: true, batches: 3, batchMs: 100, warmUpMs: 150, loads: 2, slowLoads: 1 });
    else if (a === "-h" || a === "--help") {
      console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(0, 7).join("\n"));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const log = (text) => process.stderr.write(`    ${text}\n`);

// ---------------------------------------------------------------- prerequisites

function checkPrerequisites(labRoot) {
  const dts = join(labRoot, "pkg", "haapi_lab.d.ts");
  if (!existsSync(join(labRoot, "pkg", "haapi_lab_bg.wasm")) || !existsSync(dts)) {
    throw new Error(`${join(labRoot, "pkg")} is not built: run 'bash scripts/build-pkg.sh' first`);
  }
  if (!/class DpopProver\b/.test(readFileSync(dts, "utf8"))) {
    throw new Error(`${join(labRoot, "pkg")} is stale (no DpopProver in haapi_lab.d.ts): run 'bash scripts/build-pkg.sh'`);
  }
  if (!existsSync(join(labRoot, "www", "index.html"))) throw new Error(`no www/index.html in ${labRoot}`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  if (!existsSync(join(REPO_ROOT, "node_modules", "jose", "dist", "webapi", "jwt", "sign.js"))) {
    throw new Error("jose is not installed: run 'npm ci' (it is a devDependency in package.json)");
  }
}

function joseVersion() {
  return JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", "jose", "package.json"), "utf8")).version;
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile (0.5: the median) of the finite values, linearly interpolated. */
export const quantile = (xs, q) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (at - lo) : s[lo];
};
export const median = (xs) => quantile(xs, 0.5);

function gzipBytes(buf) {
  const r = spawnSync("gzip", ["-9", "-n", "-c"], { input: buf, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`gzip failed: ${r.stderr}`);
  return r.stdout.length;
}

function gitRev(dir) {
  try {
    const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${rev}+changes` : rev;
  } catch {
    return "no git";
  }
}

/** Verifies a compact ES256 DPoP proof with WebCrypto in Node (a cold page's output). */
async function verifyProof(jws, jwk) {
  const [h, c, s] = jws.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const claims = JSON.parse(Buffer.from(c, "base64url"));
  if (header.typ !== "dpop+jwt" || header.alg !== "ES256" || header.jwk?.x !== jwk.x || header.jwk?.y !== jwk.y || "d" in header.jwk) {
    throw new Error(`bad DPoP header: ${JSON.stringify(header)}`);
  }
  if (claims.htm !== "POST" || !claims.htu || !claims.jti || !Number.isInteger(claims.iat)) throw new Error(`bad DPoP claims: ${JSON.stringify(claims)}`);
  const key = await webcrypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await webcrypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, Buffer.from(s, "base64url"), Buffer.from(`${h}.${c}`));
  if (!ok) throw new Error("a cold page's DPoP proof does not verify");
}

// ---------------------------------------------------------------- 1. module sizes

function filesUnder(dir, ext) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => f.endsWith(ext) && statSync(f).isFile())
    .sort();
}

/** Each module's .wasm and JavaScript (the client's snippets included), raw and gzip -9. */
function moduleSizes(labRoot) {
  const pkg = join(labRoot, "pkg");
  const modules = [
    { id: "client", label: "client (always loaded)", wasm: "haapi_lab_bg.wasm", js: ["haapi_lab.js", ...filesUnder(join(pkg, "snippets"), ".js").map((f) => relative(pkg, f))] },
    { id: "with-sim", label: 'client with the light simulator (the page in server.mode "simulator")', wasm: "haapi_lab_with_sim_bg.wasm", js: ["haapi_lab_with_sim.js"] },
    { id: "sim-lite", label: "light simulator alone (the client module switched to simulator mode)", wasm: "sim-lite/haapi_lab_sim_lite_bg.wasm", js: ["sim-lite/haapi_lab_sim_lite.js"] },
    { id: "sim", label: "whole simulator (RSA, P-384, mutual TLS)", wasm: "sim/haapi_lab_sim_bg.wasm", js: ["sim/haapi_lab_sim.js"] },
    { id: "tools", label: "tools (RSA/P-384 keys, certificates)", wasm: "tools/haapi_lab_tools_bg.wasm", js: ["tools/haapi_lab_tools.js"] },
  ];
  const size = (rel) => {
    const file = join(pkg, rel);
    if (!existsSync(file)) return null;
    const body = readFileSync(file);
    return { path: `pkg/${rel}`, bytes: body.length, gzip9: gzipBytes(body) };
  };
  return modules.map((m) => {
    const wasm = size(m.wasm);
    if (!wasm) return { id: m.id, label: m.label, built: false };
    const js = m.js.map(size).filter(Boolean);
    const jsTotal = { bytes: js.reduce((a, f) => a + f.bytes, 0), gzip9: js.reduce((a, f) => a + f.gzip9, 0) };
    return { id: m.id, label: m.label, built: true, wasm, js, jsTotal, total: { bytes: wasm.bytes + jsTotal.bytes, gzip9: wasm.gzip9 + jsTotal.gzip9 } };
  });
}

// ---------------------------------------------------------------- experiment: preload hints

/** Every module reachable from `roots` (site paths like /www/main.js), static and literal dynamic imports. */
function moduleGraph(roots, fileOf) {
  const seen = new Set();
  const todo = [...roots];
  const specifier = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']((?:\.{1,2})?\/[^"']+)["']/g;
  while (todo.length) {
    const path = todo.pop();
    if (seen.has(path)) continue;
    seen.add(path);
    const source = readFileSync(fileOf(path), "utf8");
    for (const m of source.matchAll(specifier)) todo.push(new URL(m[1], `http://x${path}`).pathname);
  }
  return [...seen];
}

/** `<link>`s that fetch a page's whole module graph, and the .wasm of every module in it, at once. */
function hints(roots, fileOf) {
  const modules = moduleGraph(roots, fileOf);
  const links = modules.map((m) => `<link rel="modulepreload" href="${m}">`);
  for (const m of modules.filter((p) => p.startsWith("/pkg/") && p.endsWith(".js") && !p.includes("/snippets/"))) {
    links.push(`<link rel="preload" href="${m.replace(/\.js$/, "_bg.wasm")}" as="fetch" type="application/wasm" crossorigin>`);
  }
  return links;
}

/**
 * Writes copies of three pages into tests/bench/generated/ (not in git) with a <base> of the
 * original's folder and preload hints for their whole module graph: what flattening the request
 * waterfall would buy (a bundler, or the hints in the shipped HTML), ours and jose's alike.
 */
function writeHintPages(fileOf) {
  rmSync(GENERATED, { recursive: true, force: true });
  mkdirSync(GENERATED, { recursive: true });
  writeFileSync(join(GENERATED, ".gitignore"), "# Written by tests/bench/run.mjs --preload-experiment: not in git.\n*\n");
  const pages = [
    ["index-preload.html", "/www/index.html", ["/www/main.js"]],
    ["bench-cold-preload.html", `${PAGES}/bench-cold.html`, [`${PAGES}/bench-cold.js`]],
    ["bench-cold-jose-preload.html", `${PAGES}/bench-cold-jose.html`, [`${PAGES}/bench-cold-jose.js`]],
  ];
  for (const [name, from, roots] of pages) {
    const html = readFileSync(fileOf(from), "utf8");
    const charset = '<meta charset="utf-8">';
    const at = html.indexOf(charset);
    if (at < 0) throw new Error(`${from} has no ${charset} to put the hints after`);
    const end = at + charset.length;
    const base = from.slice(0, from.lastIndexOf("/") + 1);
    const head = [`<base href="${base}">`, `<!-- generated by tests/bench/run.mjs from ${from}: preload hints for its module graph -->`, ...hints(roots, fileOf)];
    writeFileSync(join(GENERATED, name), `${html.slice(0, end)}\n  ${head.join("\n  ")}${html.slice(end)}`);
  }
}

// ---------------------------------------------------------------- the server

/** Starts tests/bench/serve.mjs; resolves to `{ identity, gzip, close() }` (two origins). */
async function startServerProcess(labRoot) {
  const args = [join(REPO_ROOT, "tests", "bench", "serve.mjs"), ...(labRoot === REPO_ROOT ? [] : ["--lab-root", labRoot])];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const origins = await new Promise((resolve, reject) => {
    let text = "";
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the benchmark's server exited (${code})`)));
    child.stdout.on("data", (d) => {
      text += d;
      if (text.includes("\n")) resolve(JSON.parse(text.split("\n")[0]));
    });
  });
  child.removeAllListeners("exit");
  return {
    ...origins,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin.end();
        setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

// ---------------------------------------------------------------- the lab's default configuration

/**
 * The http-mode link's fragment: the module's default document (read in the bench page, so that
 * it fits the build measured) with server.mode "http" and a client secret.
 */
async function httpModeFragment(browser, server) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // Only the default document is read here: the client module alone is enough.
    await page.goto(new URL(`${PAGES}/bench.html?withSim=0`, server.identity).href);
    await page.waitForFunction(() => window.haapiBench, null, { timeout: HANG_GUARD_MS });
    const config = await page.evaluate(() => window.haapiBench.defaultConfig());
    if (config?.server?.mode !== "simulator") throw new Error(`the default configuration is not in simulator mode: ${JSON.stringify(config?.server)}`);
    config.server.mode = "http";
    // A real server only accepts the key registered for its client, so a generated one is refused
    // before anything runs (and the device would not open): a client secret instead.
    config.credential = { ...config.credential, method: "client_secret_basic", secret: "a-secret-for-the-benchmark", alg: null };
    return `#config=${Buffer.from(JSON.stringify(config), "utf8").toString("base64url")}`;
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- cold loads

// Installed in every cold-load context before any page script runs (the same for all contenders).
// window.__benchDone resolves when the contender's milestone is reached: for www/index.html when
// the device is ready (a MutationObserver also notes when the page became interactive); for the
// cold pages when they set window.__benchCold. No polling: nothing runs in the page but this.
const OBSERVER = () => {
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  Object.defineProperty(window, "__benchDone", { value: done });
  let cold;
  Object.defineProperty(window, "__benchCold", {
    configurable: true,
    get: () => cold,
    set: (v) => {
      cold = v;
      resolveDone("cold");
    },
  });
  const marks = (window.__benchMarks = {});
  const enabled = (id) => {
    const b = document.getElementById(id);
    return b !== null && !b.hasAttribute("aria-disabled") && !b.disabled;
  };
  const observer = new MutationObserver(() => {
    const now = performance.now();
    const r = document.documentElement;
    if (marks.interactive === undefined && r && typeof window.haapiLab === "object" && r.dataset.flowState === "idle" && r.dataset.flowBusy === "false" && enabled("btn-run") && enabled("btn-next")) {
      marks.interactive = now;
    }
    if (marks.interactive !== undefined && marks.deviceReady === undefined && document.querySelector("#device-state dl")) {
      marks.deviceReady = now;
      observer.disconnect();
      resolveDone("index");
    }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
};

/** Waits (without polling the page) for window.__benchDone, under the hang guard. */
async function waitDone(page, path) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${path} did not reach its milestone within ${HANG_GUARD_MS / 1000} s`)), HANG_GUARD_MS);
  });
  try {
    for (;;) {
      // Right after the commit the evaluation may still land before the init script: try again.
      const ok = await Promise.race([guard, page.evaluate(() => (window.__benchDone ? window.__benchDone.then(() => true) : false))]);
      if (ok) return;
      await sleep(20);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The cold-load contenders; `http` is the http-mode fragment. */
function contenders(http, preloadExperiment) {
  const list = [
    { id: "index-sim", kind: "index", label: "www/index.html, simulator mode", path: "/www/index.html" },
    { id: "index-http", kind: "index", label: "www/index.html, http mode", path: `/www/index.html${http}`, noSim: true },
    { id: "cold-webcrypto", kind: "proof", label: "bench-cold.html, DpopProver webcrypto", path: `${PAGES}/bench-cold.html?store=webcrypto`, peer: "cold-jose" },
    { id: "cold-wasm", kind: "proof", label: "bench-cold.html, DpopProver wasm", path: `${PAGES}/bench-cold.html?store=wasm`, peer: "cold-jose" },
    { id: "cold-jose", kind: "proof", label: "bench-cold-jose.html, jose SignJWT", path: `${PAGES}/bench-cold-jose.html`, peer: "cold-jose" },
  ];
  if (preloadExperiment) {
    list.push(
      { id: "index-sim-preload", kind: "index", experiment: true, label: "www/index.html + preload hints", path: "/tests/bench/generated/index-preload.html" },
      { id: "cold-webcrypto-preload", kind: "proof", experiment: true, label: "bench-cold.html + preload, webcrypto", path: "/tests/bench/generated/bench-cold-preload.html?store=webcrypto", peer: "cold-jose-preload" },
      { id: "cold-jose-preload", kind: "proof", experiment: true, label: "bench-cold-jose.html + preload", path: "/tests/bench/generated/bench-cold-jose-preload.html", peer: "cold-jose-preload" },
    );
  }
  return list;
}

/** A path of simulator code: a simulator module, or the client module with the light one in it. */
const SIM_PATH = /^\/pkg\/(sim(-lite)?\/|haapi_lab_with_sim)/;
const isSimPath = (url) => SIM_PATH.test(new URL(url).pathname);

/** One load in a fresh context under `condition`; with `responses`, also every response's body. */
async function coldLoad(browser, server, contender, condition, { responses = null } = {}) {
  const context = await browser.newContext({ serviceWorkers: "block" });
  try {
    await context.addInitScript(OBSERVER);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    if (condition.network) await cdp.send("Network.emulateNetworkConditions", condition.network);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const requested = [];
    page.on("request", (r) => requested.push(r.url()));
    const bodies = [];
    if (responses) {
      page.on("response", (r) => {
        bodies.push(
          (async () => {
            const body = await r.body().catch(() => Buffer.alloc(0));
            return { url: r.url(), status: r.status(), type: r.headers()["content-type"] ?? "", body };
          })(),
        );
      });
    }
    const origin = server[condition.server];
    await page.goto(new URL(contender.path, origin).href, { waitUntil: "commit" });
    await waitDone(page, contender.path);
    const data = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const timing = (e) => ({ name: e.name, startTime: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd, transferSize: e.transferSize, encodedBodySize: e.encodedBodySize });
      return {
        marks: window.__benchMarks ?? {},
        cold: window.__benchCold ?? null,
        nav: nav ? { ...timing(nav), domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd } : null,
        resources: performance.getEntriesByType("resource").map(timing),
      };
    });
    if (data.cold?.error) throw new Error(`${contender.path}: ${data.cold.error}`);
    if (data.cold?.proof) await verifyProof(data.cold.proof, data.cold.jwk);
    if (responses) {
      await page.waitForLoadState("networkidle");
      for (const r of await Promise.all(bodies)) responses.push(r);
    }
    if (contender.noSim) {
      const sim = requested.filter(isSimPath);
      if (sim.length) throw new Error(`${contender.label}: the simulator module was requested in http mode: ${sim.join(", ")}`);
    }
    if (errors.length) throw new Error(`${contender.path} reported errors: ${errors.join("; ")}`);
    data.requested = requested.map((u) => new URL(u).pathname);
    return data;
  } finally {
    await context.close();
  }
}

const pathOf = (url) => new URL(url).pathname;
const resourceEnd = (d, path) => d.resources.find((r) => pathOf(r.name) === path)?.responseEnd;

/** Bytes the page received over the network (headers included; Resource Timing transferSize). */
const wireBytes = (d) => (d.nav?.transferSize ?? 0) + d.resources.reduce((a, r) => a + (r.transferSize ?? 0), 0);

/** The largest response's body bytes per second, from its first to its last byte (a check on the emulation). */
function largestRate(d) {
  const r = [...d.resources].sort((a, b) => b.encodedBodySize - a.encodedBodySize)[0];
  if (!r || !(r.responseEnd > r.responseStart)) return null;
  return { path: pathOf(r.name), bytes: r.encodedBodySize, bytesPerSec: (r.encodedBodySize * 1000) / (r.responseEnd - r.responseStart) };
}

async function coldLoads(browser, server, list, condition, loads) {
  const samples = Object.fromEntries(list.map((c) => [c.id, []]));
  for (let round = 0; round <= loads; round++) {
    log(`cold loads, ${condition.id}: ${round === 0 ? "warm-up round (discarded)" : `round ${round} of ${loads}`}`);
    for (let i = 0; i < list.length; i++) {
      const c = list[(i + round) % list.length];
      const data = await coldLoad(browser, server, c, condition);
      if (round > 0) samples[c.id].push(data);
      await sleep(500); // let the closed context's renderer exit before the next load
    }
  }
  const iqr = (xs) => ({ p25: quantile(xs, 0.25), p75: quantile(xs, 0.75) });
  const summary = {};
  for (const c of list) {
    const s = samples[c.id];
    const pick = (f) => median(s.map(f));
    // When each file started and finished loading (medians over the loads): the waterfall.
    const paths = [...new Set(s.flatMap((d) => d.resources.map((r) => pathOf(r.name))))];
    const waterfall = Object.fromEntries(
      paths.map((p) => {
        const of = (d) => d.resources.find((r) => pathOf(r.name) === p);
        return [p, { startMs: Number(median(s.map((d) => of(d)?.startTime)).toFixed(1)), endMs: Number(median(s.map((d) => of(d)?.responseEnd)).toFixed(1)) }];
      }),
    );
    const rates = s.map(largestRate).filter(Boolean);
    const common = {
      label: c.label,
      path: c.path,
      kind: c.kind,
      experiment: Boolean(c.experiment),
      loads: s.length,
      requests: median(s.map((d) => d.resources.length + 1)),
      wireBytes: pick(wireBytes),
      largest: rates.length ? { path: rates[0].path, bytes: rates[0].bytes, bytesPerSec: median(rates.map((r) => r.bytesPerSec)) } : null,
      simRequested: s.some((d) => d.requested.some((p) => SIM_PATH.test(p))),
      toolsRequested: s.some((d) => d.requested.some((p) => p.startsWith("/pkg/tools/"))),
      htmlLoadedMs: pick((d) => d.nav?.responseEnd),
      wasmLoadedMs: pick((d) => resourceEnd(d, "/pkg/haapi_lab_bg.wasm") ?? resourceEnd(d, "/pkg/haapi_lab_with_sim_bg.wasm")),
      simWasmLoadedMs: pick((d) => resourceEnd(d, "/pkg/haapi_lab_with_sim_bg.wasm") ?? resourceEnd(d, "/pkg/sim-lite/haapi_lab_sim_lite_bg.wasm") ?? resourceEnd(d, "/pkg/sim/haapi_lab_sim_bg.wasm")),
      waterfall,
    };
    if (c.kind === "index") {
      const interactive = s.map((d) => d.marks.interactive);
      const deviceReady = s.map((d) => d.marks.deviceReady);
      summary[c.id] = { ...common, interactiveMs: median(interactive), interactive: iqr(interactive), deviceReadyMs: median(deviceReady), deviceReady: iqr(deviceReady), interactiveAllMs: interactive, deviceReadyAllMs: deviceReady };
    } else {
      const proof = s.map((d) => d.cold.marks.proof);
      // Paired with the peer's load of the same round (next to each other in time, so under the
      // same load of the machine): the median of the per-round ratios, a check on the ratio of medians.
      const perRound = median(s.map((d, i) => d.cold.marks.proof / samples[c.peer][i].cold.marks.proof));
      summary[c.id] = {
        ...common,
        peer: c.peer,
        moduleStartMs: pick((d) => d.cold.marks.moduleStart),
        readyMs: pick((d) => d.cold.marks.ready),
        keyMs: pick((d) => d.cold.marks.key),
        firstProofMs: median(proof),
        firstProof: iqr(proof),
        perRoundRatioToPeer: perRound,
        firstProofAllMs: proof,
      };
    }
  }
  return { condition: condition.id, label: condition.label, network: condition.network, loads, contenders: summary };
}

// ---------------------------------------------------------------- transfer size

async function transfer(browser, server, list) {
  const out = {};
  for (const id of ["index-sim", "index-http", "cold-webcrypto", "cold-jose"]) {
    const c = list.find((x) => x.id === id);
    const responses = [];
    const data = await coldLoad(browser, server, c, CONDITIONS.local, { responses });
    const files = responses
      .filter((r) => r.url.startsWith(server.identity))
      .map((r) => ({ path: pathOf(r.url), status: r.status, type: r.type.split(";")[0], bytes: r.body.length, gzip9: gzipBytes(r.body) }));
    const other = responses.filter((r) => !r.url.startsWith(server.identity)).map((r) => r.url);
    if (other.length) throw new Error(`${c.path} loaded from elsewhere: ${other.join(", ")}`);
    const bad = files.filter((f) => f.status !== 200);
    if (bad.length) throw new Error(`${c.path}: responses other than 200: ${JSON.stringify(bad)}`);
    out[id] = {
      label: c.label,
      path: c.path,
      files,
      simRequested: data.requested.some((p) => SIM_PATH.test(p)),
      fullSimRequested: data.requested.some((p) => p.startsWith("/pkg/sim/")),
      toolsRequested: data.requested.some((p) => p.startsWith("/pkg/tools/")),
      total: { files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0), gzip9: files.reduce((a, f) => a + f.gzip9, 0) },
    };
  }
  return out;
}

// ---------------------------------------------------------------- throughput page

async function throughput(browser, server, opts) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.text().startsWith("bench: ")) log(m.text().slice(7));
      else if (m.type() === "error") errors.push(m.text());
    });
    // An older build (--lab-root) may have no client module with the light simulator: the page
    // then measures the client alone (and requests nothing that would answer 404).
    await page.goto(new URL(`${PAGES}/bench.html${opts.withSim ? "" : "?withSim=0"}`, server.identity).href);
    await page.waitForFunction(() => window.haapiBench, null, { timeout: HANG_GUARD_MS });
    const settings = { batches: opts.batches, batchMs: opts.batchMs, warmUpMs: opts.warmUpMs };
    const result = await page.evaluate((s) => window.haapiBench.run(s), settings);
    if (errors.length) throw new Error(`${PAGES}/bench.html reported errors: ${errors.join("; ")}`);
    return result;
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- the table

function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length)));
  return rows
    .map((r) => r.map((v, i) => (align[i] === "l" ? String(v ?? "").padEnd(widths[i]) : String(v ?? "").padStart(widths[i]))).join("  ").trimEnd())
    .join("\n");
}

export const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
export const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "-");
const kb = (x) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} kB` : "-");

/** Ops/s ratios of the DPoP contenders to jose: of the medians, and the median of per-round ratios. */
export function proofRatios(r) {
  const proofs = r.page.groups.proofs.filter((x) => !x.id.startsWith("stubbed-"));
  const jose = proofs.find((x) => x.id === "proof-jose");
  // Batch b of every contender ran in round b, next to jose's batch b.
  const perRound = (x) => median(x.samplesUs.map((us, b) => jose.samplesUs[b] / us));
  return Object.fromEntries(proofs.map((x) => [x.id, { ...x, vsJose: x.opsPerSec / jose.opsPerSec, perRound: perRound(x) }]));
}

/** Target for a whole run to tokens with a new device (issue 7), in ms. */
export const LOGIN_TARGET_MS = 40;

/**
 * The whole runs against the in-page simulator, by id, each with its peer: a run to tokens beside
 * the same run up to authorize (same device, same key store), `vsAuthorize` the ratio of medians.
 */
export function runFigures(r) {
  const runs = r.page.groups.runs ?? [];
  const byId = new Map(runs.map((x) => [x.id, x]));
  return Object.fromEntries(
    runs.map((x) => {
      const peer = x.id.startsWith("login-") ? byId.get(x.id.replace(/^login-/, "run-")) : undefined;
      return [x.id, { ...x, ms: x.medianUs / 1000, peer, vsAuthorize: peer ? x.medianUs / peer.medianUs : undefined }];
    }),
  );
}

/** "met" / "NOT met" for a run to tokens with a new device. */
const loginTarget = (x) => (x.id.startsWith("login-new-") ? `target <= ${LOGIN_TARGET_MS} ms: ${x.ms <= LOGIN_TARGET_MS ? "met" : "NOT met"}` : "");

/**
 * The figures the issue asks for, as [label, value] rows: module sizes, first-load transfer,
 * cold loads per condition, DPoP proofs per second, whole runs to authorize and to tokens.
 * Shared with tests/bench/compare.mjs.
 */
export function headline(r) {
  const rows = [];
  const size = (m) => (m?.built ? `${f0(m.wasm.bytes)} / ${f0(m.wasm.gzip9)}` : "not built");
  const sizeAll = (m) => (m?.built ? `${f0(m.total.bytes)} / ${f0(m.total.gzip9)}` : "not built");
  const mod = (id) => r.sizes.find((m) => m.id === id);
  rows.push(["client module .wasm, bytes / gzip -9", size(mod("client"))]);
  rows.push(["client module .wasm + .js", sizeAll(mod("client"))]);
  rows.push(["client + light simulator module .wasm, bytes / gzip -9 (the page in simulator mode)", size(mod("with-sim"))]);
  rows.push(["client + light simulator module .wasm + .js", sizeAll(mod("with-sim"))]);
  rows.push(["light simulator module alone .wasm, bytes / gzip -9", size(mod("sim-lite"))]);
  rows.push(["whole simulator module .wasm, bytes / gzip -9 (RSA, P-384, mutual TLS)", size(mod("sim"))]);
  const t = (id) => r.transfer[id];
  rows.push(["first load, simulator mode: bytes / gzip -9", `${f0(t("index-sim").total.bytes)} / ${f0(t("index-sim").total.gzip9)}`]);
  rows.push(["first load, http mode: bytes / gzip -9", `${f0(t("index-http").total.bytes)} / ${f0(t("index-http").total.gzip9)}`]);
  for (const cond of r.cold) {
    const c = cond.contenders;
    const at = (id, key) => c[id]?.[key];
    const n = `${cond.condition}, N=${cond.loads}`;
    rows.push([`[${n}] interactive, simulator mode (ms)`, f0(at("index-sim", "interactiveMs"))]);
    rows.push([`[${n}] interactive, http mode (ms)`, f0(at("index-http", "interactiveMs"))]);
    rows.push([`[${n}] device ready, simulator mode (ms)`, f0(at("index-sim", "deviceReadyMs"))]);
    rows.push([`[${n}] first proof, webcrypto store (ms)`, `${f0(at("cold-webcrypto", "firstProofMs"))} (${ratio(at("cold-webcrypto", "firstProofMs"), at("cold-jose", "firstProofMs"))} jose)`]);
    rows.push([`[${n}] first proof, wasm store (ms)`, `${f0(at("cold-wasm", "firstProofMs"))} (${ratio(at("cold-wasm", "firstProofMs"), at("cold-jose", "firstProofMs"))} jose)`]);
    rows.push([`[${n}] first proof, jose (ms)`, f0(at("cold-jose", "firstProofMs"))]);
  }
  const p = proofRatios(r);
  for (const [id, label] of [
    ["proof-wasm", 'DPoP proofs/s, "wasm" store'],
    ["proof-wasm-with-sim", 'DPoP proofs/s, "wasm" store, client + light simulator module (the page in simulator mode)'],
    ["proof-webcrypto", 'DPoP proofs/s, "webcrypto" store'],
    ["proof-jose", "DPoP proofs/s, jose SignJWT"],
  ]) {
    if (!p[id]) continue; // an older build without that module
    rows.push([label, id === "proof-jose" ? f0(p[id].opsPerSec) : `${f0(p[id].opsPerSec)} (${p[id].vsJose.toFixed(2)}x jose, per round ${p[id].perRound.toFixed(2)}x)`]);
  }
  const runs = runFigures(r);
  const ms = (x) => (x ? x.ms.toFixed(1) : "-");
  for (const keyStore of ["wasm", "webcrypto"]) {
    for (const [device, what] of [["new", "new device"], ["reuse", "stored client reused"]]) {
      const run = runs[`run-${device}-${keyStore}`];
      const login = runs[`login-${device}-${keyStore}`];
      rows.push([`whole run to authorize, ${what}, ${keyStore} store (ms)`, ms(run)]);
      const notes = login ? [login.peer ? `${login.vsAuthorize.toFixed(2)}x the run to authorize` : "", loginTarget(login)].filter(Boolean) : [];
      rows.push([`whole run to tokens, ${what}, ${keyStore} store (ms)`, `${ms(login)}${notes.length ? ` (${notes.join("; ")})` : ""}`]);
    }
  }
  for (const keyStore of ["wasm", "webcrypto"]) {
    for (const [device, what] of [["new", "new device"], ["reuse", "stored client reused"]]) {
      const login = runs[`login-${device}-${keyStore}-with-sim`];
      if (login) rows.push([`whole run to tokens, ${what}, ${keyStore} store, client + light simulator module (ms)`, `${ms(login)}${loginTarget(login) ? ` (${loginTarget(login)})` : ""}`]);
    }
  }
  return rows;
}

function renderSizes(r, lines) {
  lines.push(`1. Module sizes (${r.labRoot === REPO_ROOT ? "pkg" : join(r.labRoot, "pkg")}/: the build's files as they are; gzip -9 ours)`);
  const rows = [["module", "file", "bytes", "gzip -9"]];
  for (const m of r.sizes) {
    if (!m.built) {
      rows.push([m.label, "(not built)", "", ""]);
      continue;
    }
    rows.push([m.label, m.wasm.path, f0(m.wasm.bytes), f0(m.wasm.gzip9)]);
    rows.push(["", m.js.length === 1 ? m.js[0].path : `${m.js[0].path} + ${m.js.length - 1} snippet(s)`, f0(m.jsTotal.bytes), f0(m.jsTotal.gzip9)]);
    rows.push(["", "together", f0(m.total.bytes), f0(m.total.gzip9)]);
  }
  lines.push(table(rows, "llrr"));
}

function renderTransfer(r, lines) {
  const t = r.transfer;
  lines.push("2. Transfer of the first load of www/index.html: every response until the device is ready and the network is idle");
  lines.push("   (bodies as served, uncompressed; gzip -9 of each body is ours). Simulator mode: the default configuration;");
  lines.push('   http mode: a #config= link with server.mode "http" (nothing fetched from that server on load).');
  const sim = new Map(t["index-sim"].files.map((f) => [f.path, f]));
  const http = new Map(t["index-http"].files.map((f) => [f.path, f]));
  const paths = [...new Set([...sim.keys(), ...http.keys()])];
  const cell = (m, p, k) => (m.has(p) ? f0(m.get(p)[k]) : "-");
  lines.push(
    table(
      [
        ["file", "type", "simulator bytes", "gzip -9", "http bytes", "gzip -9"],
        ...paths.map((p) => [p, (sim.get(p) ?? http.get(p)).type, cell(sim, p, "bytes"), cell(sim, p, "gzip9"), cell(http, p, "bytes"), cell(http, p, "gzip9")]),
        [`total (${t["index-sim"].total.files} / ${t["index-http"].total.files} responses)`, "", f0(t["index-sim"].total.bytes), f0(t["index-sim"].total.gzip9), f0(t["index-http"].total.bytes), f0(t["index-http"].total.gzip9)],
      ],
      "llrrrr",
    ),
  );
  const yesNo = (b) => (b ? "requested" : "not requested");
  lines.push(`   simulator code (/pkg/haapi_lab_with_sim*, /pkg/sim-lite/, /pkg/sim/): simulator mode ${yesNo(t["index-sim"].simRequested)}, http mode ${yesNo(t["index-http"].simRequested)} (checked on every http-mode load: an error if requested)`);
  lines.push(`   whole simulator module (/pkg/sim/) in simulator mode with the default configuration: ${yesNo(t["index-sim"].fullSimRequested)}`);
  lines.push(`   tools module (/pkg/tools/): simulator mode ${yesNo(t["index-sim"].toolsRequested)}, http mode ${yesNo(t["index-http"].toolsRequested)}`);
  lines.push(
    table(
      [
        ["   first signed proof pages", "responses", "bytes", "gzip -9"],
        ...["cold-webcrypto", "cold-jose"].map((id) => [`   ${t[id].label.split(",")[0]}${id === "cold-jose" ? " (jose)" : ""}`, t[id].total.files, f0(t[id].total.bytes), f0(t[id].total.gzip9)]),
      ],
      "lrrr",
    ),
  );
}

function renderCold(r, lines) {
  lines.push("3. Cold loads: a fresh browser context each (cache disabled), contenders interleaved in rotated order after one");
  lines.push("   discarded warm-up round; ms since navigation start; median of N loads, p25..p75 the middle half;");
  lines.push("   vs jose: ratio of medians; per round: median of the ratios to the jose load of the same round");
  for (const cond of r.cold) {
    const c = cond.contenders;
    lines.push("");
    lines.push(`   ${cond.condition}: ${cond.label}; N = ${cond.loads} loads per contender`);
    const rows = [["   page", "milestone", "median", "p25..p75", "vs jose", "per round", "html", "client wasm", "sim wasm", "on the wire"]];
    let experimentHeader = false;
    for (const [id, x] of Object.entries(c)) {
      if (x.experiment && !experimentHeader) {
        rows.push(["   experiment (not shipped) *", "", "", "", "vs jose+preload", "", "", "", "", ""]);
        experimentHeader = true;
      }
      const iq = (q) => `${f1(q.p25)}..${f1(q.p75)}`;
      const common = [f1(x.htmlLoadedMs), f1(x.wasmLoadedMs), f1(x.simWasmLoadedMs), kb(x.wireBytes)];
      if (x.kind === "index") {
        rows.push([`   ${x.label}`, "interactive", f1(x.interactiveMs), iq(x.interactive), "", "", ...common]);
        rows.push([`   ${x.label}`, "device ready", f1(x.deviceReadyMs), iq(x.deviceReady), "", "", "", "", "", ""]);
      } else {
        const peer = c[x.peer].firstProofMs;
        rows.push([`   ${x.label}`, "first signed proof", f1(x.firstProofMs), iq(x.firstProof), ratio(x.firstProofMs, peer), `${x.perRoundRatioToPeer.toFixed(2)}x`, ...common]);
      }
    }
    lines.push(table(rows, "llrrrrrrrr"));
    if (cond.network) {
      const big = Object.values(c).filter((x) => x.largest).sort((a, b) => b.largest.bytes - a.largest.bytes)[0];
      if (big) {
        lines.push(`   emulation check: the largest response (${big.largest.path}, ${f0(big.largest.bytes)} bytes on the wire) arrived at ${f0(big.largest.bytesPerSec)} bytes/s (limit ${f0(cond.network.downloadThroughput)}, shared by parallel responses)`);
      }
    }
  }
  lines.push("");
  lines.push("   interactive: window.haapiLab, data-flow-state idle, not busy, Run all and Next step enabled; device ready: the Lab is");
  lines.push("   created (keys made; in simulator mode the simulator module loaded); html / client wasm / sim wasm: when that");
  lines.push("   response ended; on the wire: bytes received (Resource Timing transferSize, headers included)");
  if (r.options.preloadExperiment) lines.push("   * copies of the pages (tests/bench/generated/, not in git) with <link rel=modulepreload> for their whole module graph and <link rel=preload> for the wasm; the jose page gets the same");
}

function renderThroughput(r, lines) {
  const all = r.page.groups.proofs;
  const stubbed = all.filter((x) => x.id.startsWith("stubbed-"));
  const p = proofRatios(r);
  const proofs = Object.values(p);
  const { runs } = r.page.groups;
  const settings = r.page.settings;
  lines.push("4. ES256 DPoP proofs (header+claims JSON, base64url, sign, compact JWS), one at a time (each awaited), no network emulation");
  lines.push(`   medians of ${settings.batches} interleaved batches of ~${settings.batchMs} ms after ~${settings.warmUpMs} ms warm-up per contender`);
  lines.push("   vs jose: ratio of ops/s medians; per round: median of the ratios of batches run in the same round");
  const target = (x) => {
    const at = `(${x.vsJose.toFixed(3)}x)`;
    if (x.id === "proof-webcrypto") return x.vsJose >= 0.9 ? `target >= 0.9x: met ${at}` : `target >= 0.9x: NOT met ${at}`;
    if (x.id.startsWith("proof-wasm")) return x.vsJose >= 0.15 ? `target 0.15x: met ${at}` : `target 0.15x: not yet ${at}`;
    return "";
  };
  lines.push(
    table(
      [
        ["contender", "us/op", "ops/s", "vs jose", "per round", "min..max us", "batches", ""],
        ...proofs.map((x) => {
          const paren = (v) => (x.id === "sign-raw" ? `(${v})` : v);
          return [x.label, f1(x.medianUs), f0(x.opsPerSec), paren(`${x.vsJose.toFixed(2)}x`), paren(`${x.perRound.toFixed(2)}x`), `${f1(x.minUs)}..${f1(x.maxUs)}`, `${x.batches}x${x.perBatch}`, target(x)];
        }),
      ],
      "lrrrrrrl",
    ),
  );
  lines.push("");
  lines.push("   diagnostic, in the same rounds: crypto.subtle.sign stubbed for those batches (a fixed signature, at once)");
  lines.push("   stubbed = JSON, base64url, JS<->wasm, promises; sign = full - stubbed");
  lines.push(
    table(
      [
        ["   contender", "stubbed us/op", "sign us/op", "full us/op"],
        ...stubbed.map((x) => {
          const full = proofs.find((q) => `stubbed-${q.id}` === x.id);
          return [`   ${full.label}`, f1(x.medianUs), f1(full.medianUs - x.medianUs), f1(full.medianUs)];
        }),
      ],
      "lrrr",
    ),
  );
  lines.push("");
  lines.push("5. Whole runs against the in-page simulator (Lab, storage: memory, nonce mode on): up to authorize (the fallback alone),");
  lines.push("   and to tokens (the HAAPI login with authentication.inputs demo / Password1: authorize, 4 authenticate, code-exchange);");
  lines.push("   medians of the same interleaved batches; vs authorize: ratio to the same run up to authorize");
  const figures = runFigures(r);
  lines.push(
    table(
      [
        ["run", "ms/run", "runs/s", "vs authorize", "of which (ms)", "min..max ms", "batches", ""],
        ...runs.map((x) => {
          const f = figures[x.id];
          return [
            x.label,
            (x.medianUs / 1000).toFixed(2),
            f1(x.opsPerSec),
            f.peer ? `${f.vsAuthorize.toFixed(2)}x` : "",
            x.parts.create !== undefined ? `create ${(x.parts.create / 1000).toFixed(2)} + run ${(x.parts.run / 1000).toFixed(2)}` : "run only",
            `${(x.minUs / 1000).toFixed(2)}..${(x.maxUs / 1000).toFixed(2)}`,
            `${x.batches}x${x.perBatch}`,
            loginTarget(f),
          ];
        }),
      ],
      "lrrrrrrl",
    ),
  );
  const stepNames = [...new Set(runs.flatMap((x) => Object.keys(x.parts).filter((k) => k.startsWith("step ")).map((k) => k.slice(5))))];
  if (stepNames.length) {
    lines.push("   where a run's time goes: each step's durationMs from the run's trace (median ms; client and simulator work together)");
    lines.push(
      table(
        [["   run", ...stepNames], ...runs.map((x) => [`   ${x.id}`, ...stepNames.map((n) => (x.parts[`step ${n}`] === undefined ? "-" : (x.parts[`step ${n}`] / 1000).toFixed(2)))])],
        ["l", ...stepNames.map(() => "r")],
      ),
    );
  }
}

export function render(r) {
  const lines = [];
  lines.push(`haapi-lab browser benchmark, ${r.date}, ${r.git}, ${r.cores} cores, ${r.chromium}, jose ${r.jose}${r.options.quick ? "  [--quick: smoke run, figures not comparable]" : ""}`);
  if (r.labRoot !== REPO_ROOT) lines.push(`www/ and pkg/ from ${r.labRoot} (${r.labGit}); pages and runner from ${REPO_ROOT}`);
  lines.push(`one browser, one server process (no-store; uncompressed unless said); ${r.elapsedS} s; load average (1/5/15 min) before ${r.loadAverage.before.join(" ")}, after ${r.loadAverage.after.join(" ")}`);
  lines.push("other work on the machine slows every contender alike and widens the spread: compare runs made on one quiet machine");
  lines.push("");
  lines.push("Summary");
  lines.push(table(headline(r).map(([k, v]) => [`   ${k}`, v]), "lr"));
  lines.push("");
  renderSizes(r, lines);
  lines.push("");
  renderTransfer(r, lines);
  lines.push("");
  renderCold(r, lines);
  lines.push("");
  renderThroughput(r, lines);
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  checkPrerequisites(opts.labRoot);
  const { chromium } = await import("playwright-core");
  const { fileFor } = await import("./serve.mjs");
  if (opts.preloadExperiment) writeHintPages((p) => fileFor(p, opts.labRoot));
  const sizes = moduleSizes(opts.labRoot);
  const server = await startServerProcess(opts.labRoot);
  let browser = null;
  const loadBefore = loadavg();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, handleSIGINT: true, handleSIGTERM: true, handleSIGHUP: true });
    const started = Date.now();
    log(`Chromium ${browser.version()}, serving ${server.identity} (uncompressed) and ${server.gzip} (gzip)`);
    const list = contenders(await httpModeFragment(browser, server), opts.preloadExperiment);
    log("transfer sizes");
    const transferred = await transfer(browser, server, list);
    const cold = [];
    for (const id of opts.conditions) {
      const condition = CONDITIONS[id];
      cold.push(await coldLoads(browser, server, list, condition, condition.network ? opts.slowLoads : opts.loads));
    }
    log("DPoP proofs and full runs");
    const withSim = sizes.some((m) => m.id === "with-sim" && m.built);
    const page = await throughput(browser, server, { ...opts, withSim });
    const result = {
      date: new Date().toISOString().replace(/:\d\d\.\d+Z$/, "Z"),
      git: gitRev(REPO_ROOT),
      labRoot: opts.labRoot,
      labGit: opts.labRoot === REPO_ROOT ? undefined : opts.labName ?? gitRev(opts.labRoot),
      cores: cpus().length,
      loadAverage: { before: loadBefore.map((x) => Number(x.toFixed(2))), after: loadavg().map((x) => Number(x.toFixed(2))) },
      chromium: `Chromium ${browser.version()}`,
      jose: joseVersion(),
      options: opts,
      elapsedS: Math.round((Date.now() - started) / 1000),
      sizes,
      transfer: transferred,
      cold,
      page,
    };
    const text = render(result);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, `${opts.out}.txt`), `${text}\n`);
    writeFileSync(join(RESULTS, `${opts.out}.json`), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`error: ${e.stack ?? e}`);
    process.exitCode = 1;
  });
}
