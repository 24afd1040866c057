/** Secrets the daemon holds (the HTTP token): their values never reach a stored or logged output tail. */

const secrets = new Map<string, string>();

/** Register a secret value (e.g. the HTTP token when it is loaded) under a label shown in its place. */
export function registerSecret(value: string, label: string): void {
  if (value.length >= 8) secrets.set(value, label);
}

/** Forget every registered secret (tests). */
export function clearSecrets(): void {
  secrets.clear();
}

/** The longest registered secret, in bytes: a tail keeps this much more so a secret cut at its edge is still found. */
export function longestSecret(): number {
  let n = 0;
  for (const v of secrets.keys()) n = Math.max(n, Buffer.byteLength(v));
  return n;
}

/** `text` with every registered secret replaced by `[redacted: <label>]`. */
export function redact(text: string): string {
  let out = text;
  for (const [value, label] of secrets) if (out.includes(value)) out = out.split(value).join(`[redacted: ${label}]`);
  return out;
}

/** The last `max` bytes of `buf` as text, with secrets redacted before the cut (so no partial secret is kept). */
export function redactedTail(buf: Buffer, max: number): string {
  const text = redact(buf.toString('utf8'));
  const b = Buffer.from(text);
  return b.length <= max ? text : b.subarray(b.length - max).toString('utf8');
}
