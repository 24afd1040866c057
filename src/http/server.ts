/** The daemon's HTTP server: node:http on 127.0.0.1, Host allow-list, bearer token under /api/, JSON errors. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../errors.js';
import type { Config } from '../config/load.js';
import { HttpError, hostAllowed, requireToken } from './guard.js';
import { checkDeclaredLength } from './body.js';
import { matchRoute, sendJson, type RouteDeps } from './routes.js';

export type { Actions, Readiness } from './routes.js';
export { createMetrics, type Metrics } from './metrics.js';

export interface HttpDeps extends RouteDeps {
  /** `config.http.port` (0 = any free port) and `config.portExplicit`. */
  config: Config;
  /** The bearer token (the daemon writes it to g/run/token, 0600). */
  token: string;
  log?: (msg: string, extra?: object) => void;
}

export interface HttpServer {
  /** The port actually bound on 127.0.0.1. */
  port: number;
  /** Stop accepting, end event streams, close connections (safe to call twice). */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const CLOSE_GRACE_MS = 2_000;
const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
};

function listenOn(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, HOST);
  });
}

/** Bind the configured port; a busy default falls back to a free one, a busy explicit port is an error. */
async function bind(server: http.Server, deps: HttpDeps): Promise<number> {
  const wanted = deps.config.http.port;
  try {
    return await listenOn(server, wanted);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    const why = code === 'EADDRINUSE' ? 'is already in use' : 'is not permitted';
    if (deps.config.portExplicit) {
      throw new UsageError(
        `http.port ${wanted} (set in wo.config.yaml) ${why} on ${HOST}; stop whatever holds it, choose another port, or set http.port: 0 for any free port`,
        { cause: err },
      );
    }
    const port = await listenOn(server, 0);
    deps.log?.(`http: default port ${wanted} ${why}; serving on ${HOST}:${port} instead`, { wanted, port });
    return port;
  }
}

/** Start serving; resolves once the port is bound. */
export async function startHttp(deps: HttpDeps): Promise<HttpServer> {
  let port = 0;
  const streams = new Set<() => void>();

  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (err.status === 413) res.setHeader('Connection', 'close');
        if (!res.headersSent) sendJson(res, err.status, { error: err.message }, err.headers);
        else res.end();
        return;
      }
      deps.log?.(`http: ${req.method} ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`, { err });
      if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host, port)) {
      throw new HttpError(403, `refused: Host must be 127.0.0.1:${port} or localhost:${port} (got ${JSON.stringify(req.headers.host ?? '')})`);
    }
    checkDeclaredLength(req);
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    const found = matchRoute(url.pathname);
    const isApi = url.pathname === '/api' || url.pathname.startsWith('/api/');
    if (!found) {
      if (isApi) requireToken(req, url, deps.token, false);
      throw new HttpError(404, `no such route: ${url.pathname}`);
    }
    const { route, params } = found;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = method === 'GET' || method === 'POST' ? route.methods[method] : undefined;
    if (!handler) {
      const allow = Object.keys(route.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
      throw new HttpError(405, `method ${req.method} not allowed on ${url.pathname}; allowed: ${allow}`, { Allow: allow });
    }
    if (route.auth) requireToken(req, url, deps.token, Boolean(route.queryToken) && method === 'GET');
    await handler({
      req,
      res,
      url,
      params,
      deps,
      track: (end) => {
        streams.add(end);
        res.on('close', () => streams.delete(end));
      },
    });
  }

  port = await bind(server, deps);
  server.on('error', (err) => deps.log?.(`http: server error: ${err.message}`, { err }));

  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const end of [...streams]) end();
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      })),
  };
}
