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

/**
 * The last `max` bytes of a stream's kept tail as text, secrets redacted before the cut. `cut` says the stream
 * lost its beginning: a secret's end at the very start of `buf` (its head was dropped) is redacted too. Keep
 * `max + longestSecret()` bytes, so a secret that reaches into the last `max` bytes is always whole or cut here.
 */
export function redactedTail(buf: Buffer, max: number, cut = false): string {
  let text = redact(buf.toString('utf8'));
  if (cut) {
    for (const [value, label] of secrets) {
      for (let k = value.length - 1; k >= 1; k--) {
        if (text.startsWith(value.slice(-k))) {
          text = `[redacted: ${label}]${text.slice(k)}`;
          break;
        }
      }
    }
  }
  const b = Buffer.from(text);
  return b.length <= max ? text : b.subarray(b.length - max).toString('utf8');
}
