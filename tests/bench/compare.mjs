// Prints the summary of two browser benchmark results side by side (figures only, nothing judged):
//
//   node tests/bench/compare.mjs bench-results/browser-before.json bench-results/browser-latest.json
//
// Both are .json files written by tests/bench/run.mjs (for an older build: run.mjs --lab-root DIR
// --out NAME). A figure one of them lacks (a module that was not built, a condition not run) is "-".

import { readFileSync } from "node:fs";
import { headline } from "./run.mjs";

const [beforePath, afterPath] = process.argv.slice(2);
if (!beforePath || !afterPath) {
  console.error("usage: node tests/bench/compare.mjs BEFORE.json AFTER.json");
  process.exit(2);
}
const load = (p) => JSON.parse(readFileSync(p, "utf8"));
const before = load(beforePath);
const after = load(afterPath);

const describe = (r) => `${r.labGit ?? r.git}${r.options.quick ? " [--quick]" : ""}, ${r.date}, load ${r.loadAverage.before.join("/")} -> ${r.loadAverage.after.join("/")}`;
const b = new Map(headline(before));
const a = headline(after);
const labels = [...new Set([...a.map(([k]) => k), ...b.keys()])];
const av = new Map(a);
const rows = [["", "before", "after"], ...labels.map((k) => [k, b.get(k) ?? "-", av.get(k) ?? "-"])];
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
console.log(`before: ${beforePath} (${describe(before)})`);
console.log(`after:  ${afterPath} (${describe(after)})`);
console.log("");
for (const r of rows) console.log(r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join("  "));
