/** Pure: where traces go (config key or the standard OTEL_* variables), or nowhere. */

export interface OtlpTarget {
  /** The full traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
}

const TRACES_PATH = '/v1/traces';

/** A base endpoint gets `/v1/traces` appended (the OTLP/HTTP rule for OTEL_EXPORTER_OTLP_ENDPOINT); a full one is kept. */
function withTracesPath(base: string): string {
  const u = new URL(base);
  if (!u.pathname.endsWith(TRACES_PATH)) u.pathname = `${u.pathname.replace(/\/+$/, '')}${TRACES_PATH}`;
  return u.toString();
}

/** `k=v,k2=v2` (values URL-encoded), as OTEL_EXPORTER_OTLP_HEADERS writes them. */
export function parseHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const key = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    try {
      out[key] = decodeURIComponent(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Why: one reading of "is tracing on". `telemetry.otlp.endpoint` wins, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * (used as is), then OTEL_EXPORTER_OTLP_ENDPOINT (a base); OTEL_SDK_DISABLED=true turns it off. Throws on a
 * malformed URL (the caller says so and runs without traces).
 */
export function otlpTarget(configEndpoint: string | null | undefined, env: NodeJS.ProcessEnv): OtlpTarget | null {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return null;
  const tracesEnv = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const baseEnv = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  let url: string;
  if (configEndpoint) url = withTracesPath(configEndpoint);
  else if (tracesEnv) url = new URL(tracesEnv).toString();
  else if (baseEnv) url = withTracesPath(baseEnv);
  else return null;
  if (!/^https?:$/.test(new URL(url).protocol)) throw new Error(`OTLP endpoint ${url}: only http and https are supported`);
  return {
    url,
    headers: { ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), ...parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'wo',
  };
}
