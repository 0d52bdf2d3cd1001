// Every element the scripts look up, found once and exported by name (like the jwt.io debugger's
// dom-elements.js). Other modules never call querySelector on the document.

const byId = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no element #${id}`);
  return el;
};

export const root = document.documentElement;

/**
 * One of the page's own modules (this folder) that only an action needs, loaded on first use so
 * that the first load carries only what the page shows (an ES module loads once per URL). A
 * failed load is a MODULE_UNAVAILABLE error, like a missing WebAssembly module.
 */
export function pageModule(name) {
  return import(`./${name}`).catch((e) => {
    throw Object.assign(new Error(`the page's module ${name} could not be loaded: ${e?.message ?? e} (reload the page)`), { code: "MODULE_UNAVAILABLE" });
  });
}

export const themeToggle = byId("theme-toggle");
export const presenterToggle = byId("presenter-toggle");
export const loadError = byId("load-error");
export const skipLinks = Array.from(document.querySelectorAll("a.skip-link"));

// Configuration panel.
export const configForm = byId("config-form");
export const configSummary = byId("config-summary");
export const configFields = Array.from(configForm.querySelectorAll("[data-path]"));
export const fieldWrappers = Array.from(configForm.querySelectorAll("[data-field]"));
export const methodSelect = byId("f-credential-method");
export const methodHint = byId("method-hint");
export const algSelect = byId("f-credential-alg");
export const algHint = byId("alg-hint");
export const stopAfterSelect = byId("f-stopAfter");
export const secretInput = byId("f-credential-secret");
export const secretVisibility = byId("secret-visibility");
export const privateKeyInput = byId("f-credential-privateKey");
export const privateKeyLabel = byId("label-privateKey");
export const certificateInput = byId("f-credential-certificate");
export const generateKeyButton = byId("btn-generate-key");
export const generateCertButton = byId("btn-generate-cert");
export const localCaButton = byId("btn-local-ca-cert");
export const p12Export = byId("p12-export");
export const p12Password = byId("p12-password");
export const p12Button = byId("btn-download-p12");
export const p12Status = byId("p12-status");
export const privateKeyFile = byId("file-privateKey");
export const certificateFile = byId("file-certificate");
export const keyUrlWarning = byId("key-url-warning");
export const credentialStatus = byId("credential-status");
export const simulatorHint = byId("simulator-hint");
export const endpointsDetails = byId("endpoints-details");
export const jsonDetails = byId("json-details");
export const jsonText = byId("f-json");
export const jsonStatus = byId("json-status");
export const configFile = byId("file-config");
export const exportConfigButton = byId("btn-export-config");
export const copyLinkButton = byId("btn-copy-link");
export const defaultConfigButton = byId("btn-default-config");

// Run controls and status.
export const runButton = byId("btn-run");
export const nextButton = byId("btn-next");
export const resetButton = byId("btn-reset");
export const forgetButton = byId("btn-forget");
export const resetServerButton = byId("btn-reset-server");
export const statusLine = byId("status");
export const statusText = byId("status-text");
export const runError = byId("run-error");
export const workspace = document.querySelector(".workspace");

// The app view, the other device, the tokens.
export const appSection = byId("app-section");
export const appIntro = byId("app-intro");
export const appView = byId("app-view");
export const otherDevice = byId("other-device");
export const tokensSection = byId("tokens-section");
export const tokens = byId("tokens");

// Sequence, step list, inspector, device, help.
export const sequenceSection = byId("sequence-section");
export const sequenceHost = byId("sequence");
export const stepList = byId("step-list");
export const inspector = byId("inspector");
export const revealToggle = byId("reveal-toggle");
export const revealStatus = byId("reveal-status");
export const exportTraceButton = byId("btn-export-trace");
export const deviceState = byId("device-state");
export const helpSection = byId("help-section");
export const shortcutsToggle = byId("shortcuts-toggle");
export const shortcutList = byId("shortcut-list");
