// What leaves the page by a person's hand: the configuration as a file or a link, the trace as
// a file (redacted), a step's request as a curl command. Nothing here runs the flow.

import { writeFragment } from "./automation.js";
import * as dom from "./dom.js";
import { h, replace } from "./render.js";
import { INSPECTOR, TEXT } from "./strings.js";

export async function copyText(text, statusEl, okText, onFail) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    statusEl.textContent = okText;
  } catch {
    onFail();
  }
}

export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/**
 * Wires the export and copy buttons. `page`: `config()` (the document), `reveal()` (secrets
 * shown?), `exportTrace()` (the trace to export, redacted), `status(text)`.
 * Returns `{ copyCurl(step, button) }` for the inspector.
 */
export function installSharing(page) {
  dom.exportConfigButton.addEventListener("click", () => {
    download("haapi-lab-config.json", `${JSON.stringify(page.config() ?? {}, null, 2)}\n`, "application/json");
  });

  dom.copyLinkButton.addEventListener("click", async () => {
    const url = writeFragment(page.config() ?? {}, { run: false });
    await copyText(url, dom.jsonStatus, TEXT.linkCopied, () => replace(dom.jsonStatus, TEXT.copyFailed, " ", h("code", { class: "break" }, url)));
  });

  dom.exportTraceButton.addEventListener("click", () => {
    const trace = page.exportTrace();
    if (trace.steps.length === 0) return page.status(TEXT.nothingToExport);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d+Z$/, "Z");
    const name = `haapi-lab-trace-${stamp}.json`;
    download(name, `${JSON.stringify(trace, null, 2)}\n`, "application/json");
    page.status(TEXT.traceExported(name));
  });

  return {
    async copyCurl(step, button) {
      let toCurl;
      try {
        ({ toCurl } = await dom.pageModule("curl.js"));
      } catch (e) {
        page.status(`${e.code}: ${e.message}`);
        return;
      }
      const command = toCurl(step.request, { redacted: !page.reveal(), simulated: page.config()?.server?.mode === "simulator" });
      const note = h("p", { class: "hint", role: "status" });
      const block = h("div", { class: "curl", dataset: { curl: "true" } }, h("h5", {}, INSPECTOR.curlHeading), h("pre", { class: "code", tabindex: "0" }, command), note);
      button.parentElement.querySelector("[data-curl]")?.remove();
      button.after(block);
      copyText(command, note, TEXT.curlCopied, () => {
        note.textContent = TEXT.copyFailed;
      });
    },
  };
}
