// A trace request as a curl command, quoted for POSIX shells (sh, bash, zsh).

/** Single-quotes `text` for a POSIX shell: nothing inside single quotes is special but `'`. */
export function shellQuote(text) {
  const s = String(text);
  if (s !== "" && /^[A-Za-z0-9_\-.,:/@%+=]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The request as a curl command. `options.redacted`: the trace hides secrets, so the command is
 * for reading, not running; `options.simulated`: the request went to the in-page simulator.
 */
export function toCurl(request, { redacted = false, simulated = false } = {}) {
  const comments = [];
  if (simulated) comments.push("# Sent to the in-page simulator: no server listens at this URL unless you run one there.");
  if (redacted) comments.push("# Secrets and signatures are [redacted] in this command; turn on \"Reveal secrets\" to copy one that can run.");
  const dpop = Object.keys(request.headers ?? {}).some((k) => k.toLowerCase() === "dpop");
  if (dpop) comments.push("# The DPoP proof is single-use (jti) and short-lived (iat): the server refuses a replay (RFC 9449 §11.1).");
  const args = ["curl", "--silent", "--show-error", "--include"];
  if (request.clientCertificate) {
    comments.push("# Mutual TLS: save the certificate chain shown in the inspector as client.pem and its private key as client.key.");
    args.push("--cert", "client.pem", "--key", "client.key");
  }
  const method = (request.method ?? "GET").toUpperCase();
  const hasBody = request.body !== undefined && request.body !== null && request.body !== "";
  if (!(method === "GET" && !hasBody) && !(method === "POST" && hasBody)) args.push("--request", method);
  for (const [name, value] of Object.entries(request.headers ?? {})) args.push("--header", `${name}: ${value}`);
  if (hasBody) args.push("--data-raw", request.body);
  args.push(request.url);

  // One option (with its value) per line, continued with a backslash.
  const lines = [];
  let current = args.slice(0, 4).map(shellQuote).join(" ");
  for (let i = 4; i < args.length; i += 1) {
    const arg = args[i];
    if (arg.startsWith("--") && i + 1 < args.length && arg !== "--include") {
      lines.push(current);
      current = `  ${arg} ${shellQuote(args[i + 1])}`;
      i += 1;
    } else {
      lines.push(current);
      current = `  ${shellQuote(arg)}`;
    }
  }
  lines.push(current);
  return [...comments, lines.join(" \\\n")].join("\n");
}
