// The browser benchmark, headless: figures, never pass/fail on time (no timed assertion anywhere;
// the only time limits are hang guards). Run by `bash scripts/bench.sh` (all) or
// `bash scripts/bench.sh --browser` (only this), or directly:
//
//   node tests/bench/run.mjs [--batches 7] [--batch-ms 300] [--warm-up-ms 500] [--loads 15] [--quick]
//
// In one run, one server (tests/e2e/server.mjs: the repository root, no compression,
// `cache-control: no-store`, in a process of its own: tests/bench/serve.mjs) and one Chromium
// (Debian's, through playwright-core):
//
//   1. www/bench.html: DPoP proofs per second (DpopProver "wasm" and "webcrypto" key stores,
//      hand-written WebCrypto, jose SignJWT, raw WebCrypto signatures), the same with
//      crypto.subtle.sign stubbed (what each costs besides the signature), and whole runs against
//      the in-page simulator; interleaved batches, medians (see www/bench.js);
//   2. cold loads, each in a fresh browser context (empty HTTP cache, no service worker, its own
//      renderer), the contenders interleaved in rotated order, one discarded warm-up round:
//        - www/index.html until interactive: window.haapiLab exists, <html data-flow-state="idle"
//          data-flow-busy="false">, and #btn-run and #btn-next are enabled (no aria-disabled: the
//          page enables them once the module is instantiated and the configuration applied);
//          and until the device is ready (#device-state shows the device: Lab created, keys made,
//          IndexedDB opened), taken by a MutationObserver installed before any page script;
//        - www/bench-cold.html (?store=webcrypto and ?store=wasm) and www/bench-cold-jose.html
//          until the first signed DPoP proof (marks the pages take themselves);
//      every time is performance.now() in the page: ms since the navigation started;
//      and, as an experiment, the same three pages with preload hints for their whole module
//      graph (copies generated into www/vendor/: see writeHintPages);
//   3. transfer size: every response www/index.html loads (and the two cold pages), raw bytes
//      and gzip -9 of each body (our servers do not compress: we compress them ourselves).
//
// jose (node_modules/jose/dist/webapi, npm devDependency) is copied to www/vendor/jose/ first,
// which a .gitignore of its own keeps out of git: the jose page is served exactly as ours is.
// Writes bench-results/browser-latest.txt (the table, also printed) and browser-latest.json.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../e2e/server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];
const HANG_GUARD_MS = 180_000; // not a measurement: a page that never gets there is an error
const RESULTS = join(REPO_ROOT, "bench-results");
const VENDOR = join(REPO_ROOT, "www", "vendor");

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { batches: 7, batchMs: 300, warmUpMs: 500, loads: 15, quick: false };
  const num = (name, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, not ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--batches") o.batches = num(a, argv[++i]);
    else if (a === "--batch-ms") o.batchMs = num(a, argv[++i]);
    else if (a === "--warm-up-ms") o.warmUpMs = num(a, argv[++i]);
    else if (a === "--loads") o.loads = num(a, argv[++i]);
    else if (a === "--quick") Object.assign(o, { quick: true, batches: 3, batchMs: 100, warmUpMs: 150, loads: 2 });
    else if (a === "-h" || a === "--help") {
      console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(0, 7).join("\n"));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const log = (text) => process.stderr.write(`    ${text}\n`);

// ---------------------------------------------------------------- prerequisites, jose

function checkPrerequisites() {
  const dts = join(REPO_ROOT, "pkg", "haapi_lab.d.ts");
  if (!existsSync(join(REPO_ROOT, "pkg", "haapi_lab_bg.wasm")) || !existsSync(dts)) {
    throw new Error("pkg/ is not built: run 'bash scripts/build-pkg.sh' first");
  }
  if (!/class DpopProver\b/.test(readFileSync(dts, "utf8"))) {
    throw new Error("pkg/ is stale (no DpopProver in pkg/haapi_lab.d.ts): run 'bash scripts/build-pkg.sh'");
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  if (!existsSync(join(REPO_ROOT, "node_modules", "jose", "dist", "webapi", "jwt", "sign.js"))) {
    throw new Error("jose is not installed: run 'npm ci' (it is a devDependency in package.json)");
  }
}

/** Copies jose's browser build (dist/webapi, plain ES modules) to www/vendor/jose/. */
function vendorJose() {
  const from = join(REPO_ROOT, "node_modules", "jose");
  const version = JSON.parse(readFileSync(join(from, "package.json"), "utf8")).version;
  rmSync(join(VENDOR, "jose"), { recursive: true, force: true });
  mkdirSync(VENDOR, { recursive: true });
  writeFileSync(join(VENDOR, ".gitignore"), "# Copied here by tests/bench/run.mjs (bash scripts/bench.sh --browser): not in git.\n*\n");
  cpSync(join(from, "dist", "webapi"), join(VENDOR, "jose"), { recursive: true });
  cpSync(join(from, "LICENSE.md"), join(VENDOR, "jose", "LICENSE.md"));
  writeFileSync(join(VENDOR, "jose", "VERSION"), `${version}\n`);
  return version;
}

// ---------------------------------------------------------------- experiment: preload hints

/** Every module reachable from `roots` (site paths like /www/main.js), static and dynamic imports. */
function moduleGraph(roots) {
  const seen = new Set();
  const todo = [...roots];
  const specifier = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;
  while (todo.length) {
    const path = todo.pop();
    if (seen.has(path)) continue;
    seen.add(path);
    const source = readFileSync(join(REPO_ROOT, path), "utf8");
    for (const m of source.matchAll(specifier)) todo.push(new URL(m[1], `http://x${path}`).pathname);
  }
  return [...seen];
}

/** `<link>`s that fetch a page's whole module graph (and the module's wasm) at once. */
function hints(roots) {
  const modules = moduleGraph(roots);
  const links = modules.map((m) => `<link rel="modulepreload" href="${m}">`);
  if (modules.includes("/pkg/haapi_lab.js")) links.push('<link rel="preload" href="/pkg/haapi_lab_bg.wasm" as="fetch" type="application/wasm" crossorigin>');
  return links;
}

/**
 * Writes copies of three pages into www/vendor/ (not in git) with <base href="/www/"> and preload
 * hints for their whole module graph: what flattening the request waterfall would buy (a
 * bundler, or the hints in the shipped HTML), measured the same way, ours and jose's alike.
 */
function writeHintPages() {
  const pages = [
    ["index-preload.html", "www/index.html", ["/www/main.js"]],
    ["bench-cold-preload.html", "www/bench-cold.html", ["/www/bench-cold.js"]],
    ["bench-cold-jose-preload.html", "www/bench-cold-jose.html", ["/www/bench-cold-jose.js"]],
  ];
  for (const [name, from, roots] of pages) {
    const html = readFileSync(join(REPO_ROOT, from), "utf8");
    const at = html.indexOf("<meta charset=\"utf-8\">");
    if (at < 0) throw new Error(`${from} has no <meta charset="utf-8"> to put the hints after`);
    const end = at + '<meta charset="utf-8">'.length;
    const head = ['<base href="/www/">', `<!-- generated by tests/bench/run.mjs from ${from}: preload hints for its module graph -->`, ...hints(roots)];
    writeFileSync(join(VENDOR, name), `${html.slice(0, end)}\n  ${head.join("\n  ")}${html.slice(end)}`);
  }
}

// ---------------------------------------------------------------- the server

/** Starts tests/bench/serve.mjs; resolves to `{ origin, url(path), close() }`. */
async function startServerProcess() {
  const child = spawn(process.execPath, [join(REPO_ROOT, "tests", "bench", "serve.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  const origin = await new Promise((resolve, reject) => {
    let text = "";
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the benchmark's server exited (${code})`)));
    child.stdout.on("data", (d) => {
      text += d;
      const line = text.split("\n")[0];
      if (text.includes("\n")) resolve(line.trim());
    });
  });
  child.removeAllListeners("exit");
  return {
    origin,
    url: (p) => new URL(p, origin).href,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin.end();
        setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile (0.5: the median) of the finite values, linearly interpolated. */
const quantile = (xs, q) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (at - lo) : s[lo];
};
const median = (xs) => quantile(xs, 0.5);

function gzipBytes(buf) {
  const r = spawnSync("gzip", ["-9", "-n", "-c"], { input: buf, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`gzip failed: ${r.stderr}`);
  return r.stdout.length;
}

function gitRev() {
  try {
    const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
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

// ---------------------------------------------------------------- 1. throughput page

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
    await page.goto(server.url("/www/bench.html"));
    await page.waitForFunction(() => window.haapiBench, null, { timeout: HANG_GUARD_MS });
    const settings = { batches: opts.batches, batchMs: opts.batchMs, warmUpMs: opts.warmUpMs };
    const result = await page.evaluate((s) => window.haapiBench.run(s), settings);
    if (errors.length) throw new Error(`www/bench.html reported errors: ${errors.join("; ")}`);
    return result;
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- 2. cold loads

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

// The "-preload" contenders are the experiment of writeHintPages(): not what is shipped.
const COLD = [
  { id: "index", label: "www/index.html", path: "/www/index.html" },
  { id: "cold-webcrypto", label: "bench-cold.html, DpopProver webcrypto", path: "/www/bench-cold.html?store=webcrypto" },
  { id: "cold-wasm", label: "bench-cold.html, DpopProver wasm", path: "/www/bench-cold.html?store=wasm" },
  { id: "cold-jose", label: "bench-cold-jose.html, jose SignJWT", path: "/www/bench-cold-jose.html" },
  { id: "index-preload", label: "www/index.html + preload hints", path: "/www/vendor/index-preload.html" },
  { id: "cold-webcrypto-preload", label: "bench-cold.html + preload, webcrypto", path: "/www/vendor/bench-cold-preload.html?store=webcrypto" },
  { id: "cold-jose-preload", label: "bench-cold-jose.html + preload", path: "/www/vendor/bench-cold-jose-preload.html" },
];

/** One load in a fresh context; with `responses`, also every response's body. */
async function coldLoad(browser, server, contender, { responses = null } = {}) {
  const context = await browser.newContext({ serviceWorkers: "block" });
  try {
    await context.addInitScript(OBSERVER);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const bodies = [];
    if (responses) {
      page.on("response", (r) => {
        bodies.push(
          (async () => {
            const body = await r.body().catch(() => Buffer.alloc(0));
            const sizes = await r.request().sizes().catch(() => null);
            return { url: r.url(), status: r.status(), type: r.headers()["content-type"] ?? "", body, headerBytes: sizes?.responseHeadersSize ?? null };
          })(),
        );
      });
    }
    await page.goto(server.url(contender.path), { waitUntil: "commit" });
    await waitDone(page, contender.path);
    const data = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      return {
        marks: window.__benchMarks ?? {},
        cold: window.__benchCold ?? null,
        nav: nav ? { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd } : null,
        resources: performance.getEntriesByType("resource").map((r) => ({ name: r.name, startTime: r.startTime, responseEnd: r.responseEnd })),
      };
    });
    if (data.cold?.error) throw new Error(`${contender.path}: ${data.cold.error}`);
    if (data.cold?.proof) await verifyProof(data.cold.proof, data.cold.jwk);
    if (responses) {
      await page.waitForLoadState("networkidle");
      for (const r of await Promise.all(bodies)) responses.push(r);
    }
    if (errors.length) throw new Error(`${contender.path} reported errors: ${errors.join("; ")}`);
    return data;
  } finally {
    await context.close();
  }
}

async function coldLoads(browser, server, opts) {
  const samples = Object.fromEntries(COLD.map((c) => [c.id, []]));
  for (let round = 0; round <= opts.loads; round++) {
    log(round === 0 ? "cold loads: warm-up round (discarded)" : `cold loads: round ${round} of ${opts.loads}`);
    for (let i = 0; i < COLD.length; i++) {
      const c = COLD[(i + round) % COLD.length];
      const data = await coldLoad(browser, server, c);
      if (round > 0) samples[c.id].push(data);
      await sleep(500); // let the closed context's renderer exit before the next load
    }
  }
  const wasmEnd = (d) => d.resources.find((r) => r.name.endsWith("/pkg/haapi_lab_bg.wasm"))?.responseEnd;
  // Paired with the jose load of the same round (next to each other in time, so under the same
  // load of the machine): the median of the per-round ratios, a check on the ratio of medians.
  const perRoundRatio = (id, peer = "cold-jose") => median(samples[id].map((d, i) => d.cold.marks.proof / samples[peer][i].cold.marks.proof));
  const summary = {};
  for (const c of COLD) {
    const s = samples[c.id];
    const pick = (f) => median(s.map(f));
    // When each file started and finished loading (medians over the loads): the waterfall.
    const paths = [...new Set(s.flatMap((d) => d.resources.map((r) => new URL(r.name).pathname)))];
    const waterfall = Object.fromEntries(
      paths.map((p) => {
        const of = (d) => d.resources.find((r) => new URL(r.name).pathname === p);
        return [p, { startMs: Number(median(s.map((d) => of(d)?.startTime)).toFixed(1)), endMs: Number(median(s.map((d) => of(d)?.responseEnd)).toFixed(1)) }];
      }),
    );
    summary[c.id] = {
      label: c.label,
      path: c.path,
      loads: s.length,
      waterfall,
      htmlLoadedMs: pick((d) => d.nav?.responseEnd),
      domContentLoadedMs: pick((d) => d.nav?.domContentLoaded),
      wasmLoadedMs: pick(wasmEnd),
      ...(c.id.startsWith("index")
        ? {
            interactiveMs: pick((d) => d.marks.interactive),
            interactiveP25Ms: quantile(s.map((d) => d.marks.interactive), 0.25),
            interactiveP75Ms: quantile(s.map((d) => d.marks.interactive), 0.75),
            deviceReadyMs: pick((d) => d.marks.deviceReady),
            deviceReadyP25Ms: quantile(s.map((d) => d.marks.deviceReady), 0.25),
            deviceReadyP75Ms: quantile(s.map((d) => d.marks.deviceReady), 0.75),
            interactiveAllMs: s.map((d) => d.marks.interactive),
            deviceReadyAllMs: s.map((d) => d.marks.deviceReady),
          }
        : {
            moduleStartMs: pick((d) => d.cold.marks.moduleStart),
            readyMs: pick((d) => d.cold.marks.ready),
            keyMs: pick((d) => d.cold.marks.key),
            firstProofMs: pick((d) => d.cold.marks.proof),
            firstProofP25Ms: quantile(s.map((d) => d.cold.marks.proof), 0.25),
            firstProofP75Ms: quantile(s.map((d) => d.cold.marks.proof), 0.75),
            perRoundRatioToJose: perRoundRatio(c.id),
            ...(c.id.endsWith("-preload") ? { perRoundRatioToJosePreload: perRoundRatio(c.id, "cold-jose-preload") } : {}),
            firstProofAllMs: s.map((d) => d.cold.marks.proof),
            requests: s[0]?.resources.length + 1,
          }),
    };
  }
  return summary;
}

// ---------------------------------------------------------------- 3. transfer size

async function transfer(browser, server) {
  const out = {};
  for (const id of ["index", "cold-webcrypto", "cold-jose"]) {
    const c = COLD.find((x) => x.id === id);
    const responses = [];
    await coldLoad(browser, server, c, { responses });
    const files = responses
      .filter((r) => r.url.startsWith(server.origin))
      .map((r) => ({ path: new URL(r.url).pathname, status: r.status, type: r.type.split(";")[0], bytes: r.body.length, gzip9: gzipBytes(r.body), headerBytes: r.headerBytes }));
    const other = responses.filter((r) => !r.url.startsWith(server.origin)).map((r) => r.url);
    if (other.length) throw new Error(`${c.path} loaded from elsewhere: ${other.join(", ")}`);
    const bad = files.filter((f) => f.status !== 200);
    if (bad.length) throw new Error(`${c.path}: responses other than 200: ${JSON.stringify(bad)}`);
    out[id] = {
      path: c.path,
      files,
      total: { files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0), gzip9: files.reduce((a, f) => a + f.gzip9, 0) },
    };
  }
  return out;
}

// ---------------------------------------------------------------- the table

function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length)));
  return rows
    .map((r) => r.map((v, i) => (align[i] === "l" ? String(v ?? "").padEnd(widths[i]) : String(v ?? "").padStart(widths[i]))).join("  ").trimEnd())
    .join("\n");
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "-");

function render(r) {
  const lines = [];
  const all = r.page.groups.proofs;
  const proofs = all.filter((x) => !x.id.startsWith("stubbed-"));
  const stubbed = all.filter((x) => x.id.startsWith("stubbed-"));
  const { runs } = r.page.groups;
  const jose = proofs.find((x) => x.id === "proof-jose");
  // Per-round ratio to jose: batch b of every contender ran in round b, next to jose's batch b.
  const roundRatio = (x) => median(x.samplesUs.map((us, b) => jose.samplesUs[b] / us));
  const settings = r.page.settings;
  lines.push(`haapi-lab browser benchmark, ${r.date}, ${r.git}, ${r.cores} cores, ${r.chromium}, jose ${r.jose}${r.options.quick ? "  [--quick: smoke run, figures not comparable]" : ""}`);
  lines.push(`one page, one browser, one server (no compression, no-store); medians of ${settings.batches} interleaved batches of ~${settings.batchMs} ms after ~${settings.warmUpMs} ms warm-up per contender`);
  lines.push(`load average (1/5/15 min) before ${r.loadAverage.before.join(" ")}, after ${r.loadAverage.after.join(" ")}: other work on the machine slows every contender alike, and widens the spread`);
  lines.push("");
  lines.push("1. ES256 DPoP proofs (header+claims JSON, base64url, sign, compact JWS), one at a time (each awaited)");
  lines.push("   vs jose: ratio of ops/s medians; per round: median of the ratios of batches run in the same round");
  const target = (x) => (x.id === "proof-webcrypto" ? (x.opsPerSec / jose.opsPerSec >= 0.9 ? "target >= 0.9x: met" : "target >= 0.9x: NOT met") : "");
  lines.push(
    table(
      [
        ["contender", "us/op", "ops/s", "vs jose", "per round", "min..max us", "batches", ""],
        ...proofs.map((x) => {
          const paren = (v) => (x.id === "sign-raw" ? `(${v})` : v);
          return [x.label, f1(x.medianUs), f0(x.opsPerSec), paren(ratio(x.opsPerSec, jose.opsPerSec)), paren(`${roundRatio(x).toFixed(2)}x`), `${f1(x.minUs)}..${f1(x.maxUs)}`, `${x.batches}x${x.perBatch}`, target(x)];
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
          const full = proofs.find((p) => `stubbed-${p.id}` === x.id);
          return [`   ${full.label}`, f1(x.medianUs), f1(full.medianUs - x.medianUs), f1(full.medianUs)];
        }),
      ],
      "lrrr",
    ),
  );
  lines.push("");
  lines.push("2. Full runs against the in-page simulator (Lab, storage: memory; discovery .. authorize)");
  lines.push(
    table(
      [
        ["run", "ms/run", "runs/s", "of which (ms)", "min..max ms", "batches"],
        ...runs.map((x) => [
          x.label,
          (x.medianUs / 1000).toFixed(2),
          f1(x.opsPerSec),
          x.parts.create !== undefined ? `create ${(x.parts.create / 1000).toFixed(2)} + run ${(x.parts.run / 1000).toFixed(2)}` : "run only",
          `${(x.minUs / 1000).toFixed(2)}..${(x.maxUs / 1000).toFixed(2)}`,
          `${x.batches}x${x.perBatch}`,
        ]),
      ],
      "lrrrrr",
    ),
  );
  const stepNames = [...new Set(runs.flatMap((x) => Object.keys(x.parts).filter((k) => k.startsWith("step ")).map((k) => k.slice(5))))];
  if (stepNames.length) {
    lines.push("   where a run's time goes: each step's durationMs from the run's trace (median ms; client and simulator work together)");
    lines.push(
      table(
        [["   run", ...stepNames], ...runs.map((x) => [`   ${x.label.replace(/ \(.*\)/, "")}`, ...stepNames.map((n) => (x.parts[`step ${n}`] === undefined ? "-" : (x.parts[`step ${n}`] / 1000).toFixed(2)))])],
        ["l", ...stepNames.map(() => "r")],
      ),
    );
  }
  lines.push("");
  const c = r.cold;
  const jm = c["cold-jose"].firstProofMs;
  lines.push(`3. Cold loads: a fresh browser context each (empty cache), ${c.index.loads} per contender, interleaved (rotated order); ms since navigation start`);
  lines.push("   p25..p75: the middle half of the loads; vs jose: ratio of medians; per round: median of the ratios to the jose load of the same round");
  const iqr = (lo, hi) => `${f1(lo)}..${f1(hi)}`;
  const indexRows = (x, note = "") => [
    [x.label, `interactive (controls enabled)${note}`, f1(x.interactiveMs), iqr(x.interactiveP25Ms, x.interactiveP75Ms), "", "", "", f1(x.htmlLoadedMs), "", f1(x.wasmLoadedMs), ""],
    [x.label, "device ready (Lab created)", f1(x.deviceReadyMs), iqr(x.deviceReadyP25Ms, x.deviceReadyP75Ms), "", "", "", "", "", "", ""],
  ];
  const proofRow = (id, peerId) => {
    const x = c[id];
    const peer = c[peerId].firstProofMs;
    const target = id === "cold-webcrypto" ? (x.firstProofMs / peer <= 1.2 ? "target <= 1.2x: met" : "target <= 1.2x: NOT met") : "";
    const round = peerId === "cold-jose" ? x.perRoundRatioToJose : x.perRoundRatioToJosePreload ?? x.perRoundRatioToJose;
    return [x.label, "first signed DPoP proof", f1(x.firstProofMs), iqr(x.firstProofP25Ms, x.firstProofP75Ms), ratio(x.firstProofMs, peer), `${round.toFixed(2)}x`, target, f1(x.htmlLoadedMs), f1(x.moduleStartMs), f1(x.wasmLoadedMs), f1(x.keyMs)];
  };
  const hasPreload = c["cold-jose-preload"] !== undefined;
  lines.push(
    table(
      [
        ["page", "milestone", "median ms", "p25..p75", "vs jose", "per round", "", "html", "module start", "wasm loaded", "key made"],
        ...indexRows(c.index),
        proofRow("cold-webcrypto", "cold-jose"),
        proofRow("cold-wasm", "cold-jose"),
        proofRow("cold-jose", "cold-jose"),
        ...(hasPreload
          ? [
              ["experiment (not shipped) *", "", "", "vs jose+preload", "", "", "", "", "", "", ""],
              ...indexRows(c["index-preload"]),
              proofRow("cold-webcrypto-preload", "cold-jose-preload"),
              proofRow("cold-jose-preload", "cold-jose-preload"),
            ]
          : []),
      ],
      "llrrrrlrrrr",
    ),
  );
  lines.push("   html: HTML received; module start: the page's module and its static imports evaluated; wasm loaded: its response ended; key made: DpopProver.create / generateKey done");
  if (hasPreload) lines.push("   * copies of the pages (www/vendor/, generated, not in git) with <link rel=modulepreload> for their whole module graph and <link rel=preload> for the wasm: what a flat waterfall (hints or a bundler) would buy; the jose page gets the same");
  lines.push("");
  lines.push("4. Transfer size: every response of a cold load (bodies; our servers do not compress, gzip -9 is ours)");
  const t = r.transfer;
  lines.push(
    table(
      [
        ["file (www/index.html)", "type", "bytes", "gzip -9"],
        ...t.index.files.map((x) => [x.path, x.type, f0(x.bytes), f0(x.gzip9)]),
        [`total (${t.index.total.files} responses)`, "", f0(t.index.total.bytes), f0(t.index.total.gzip9)],
        ["", "", "", ""],
        [`bench-cold.html total (${t["cold-webcrypto"].total.files} responses)`, "", f0(t["cold-webcrypto"].total.bytes), f0(t["cold-webcrypto"].total.gzip9)],
        [`bench-cold-jose.html total (${t["cold-jose"].total.files} responses)`, "", f0(t["cold-jose"].total.bytes), f0(t["cold-jose"].total.gzip9)],
      ],
      "llrr",
    ),
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  checkPrerequisites();
  const joseVersion = vendorJose();
  writeHintPages();
  const server = await startServerProcess();
  let browser = null;
  const loadBefore = loadavg();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, handleSIGINT: true, handleSIGTERM: true, handleSIGHUP: true });
    const started = Date.now();
    log(`Chromium ${browser.version()}, serving ${server.origin}`);
    const page = await throughput(browser, server, opts);
    const cold = await coldLoads(browser, server, opts);
    log("transfer sizes");
    const sizes = await transfer(browser, server);
    const result = {
      date: new Date().toISOString().replace(/:\d\d\.\d+Z$/, "Z"),
      git: gitRev(),
      cores: cpus().length,
      loadAverage: { before: loadBefore.map((x) => Number(x.toFixed(2))), after: loadavg().map((x) => Number(x.toFixed(2))) },
      chromium: `Chromium ${browser.version()}`,
      jose: joseVersion,
      options: opts,
      elapsedS: Math.round((Date.now() - started) / 1000),
      page,
      cold,
      transfer: sizes,
    };
    const text = render(result);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, "browser-latest.txt"), `${text}\n`);
    writeFileSync(join(RESULTS, "browser-latest.json"), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.close();
  }
}

main().catch((e) => {
  console.error(`error: ${e.stack ?? e}`);
  process.exitCode = 1;
});
