/** The HTTP surface the daemon wires in: `startHttp(deps)` and `createMetrics()`. */
export { startHttp, type HttpDeps, type HttpServer, type Actions, type Readiness } from './server.js';
export { createMetrics, type Metrics } from './metrics.js';
