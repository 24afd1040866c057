/** Shared setup for the in-process guardrail tests: a temp root with a protected script and a real Telemetry. */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createGuardrail, type Guardrail } from '../../src/guardrail/index.js';
import { layout } from '../../src/layout.js';
import { Telemetry } from '../../src/state/telemetry.js';
import { readEvents, tempRoot } from '../helpers.js';

export const SCRIPT = '#!/bin/sh\necho "pipeline step"\n';

export interface Rig {
  root: string;
  guard: Guardrail;
  telemetry: Telemetry;
  locked: Set<string>;
  logs: string[];
  events: (name?: string) => Record<string, any>[];
  alerts: () => string[];
  file: (rel: string) => string;
  close: () => Promise<void>;
}

/** Make the pipeline folders the daemon would have created. */
export function pipelineDirs(root: string): void {
  for (const d of ['bridge/inbox/ENTRY', 'bridge/inbox/CLC', 'g/followup/state', 'g/telemetry']) fs.mkdirSync(path.join(root, d), { recursive: true });
}

/** A root with `bin/tool.sh` (0755) protected through config, and a started guardrail. */
export async function rig(opts: { restore?: boolean; extraYaml?: string; files?: Record<string, [string, number]>; start?: boolean } = {}): Promise<Rig> {
  const files = opts.files ?? { 'bin/tool.sh': [SCRIPT, 0o755] };
  const list = Object.keys(files).map((p) => `    - path: ${JSON.stringify(p)}\n      executable: true\n`).join('');
  const root = tempRoot(`http:\n  enabled: false\nguardrail:\n  restore: ${opts.restore ?? false}\n  files:\n${list}${opts.extraYaml ?? ''}`);
  pipelineDirs(root);
  for (const [rel, [text, mode]] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text, { mode });
    fs.chmodSync(path.join(root, rel), mode);
  }
  const config = await loadConfig(root);
  const telemetry = new Telemetry(layout(root).telemetry, config.telemetry.rotate_bytes);
  const locked = new Set<string>();
  const logs: string[] = [];
  const guard = createGuardrail({ config, telemetry, isLocked: (p) => locked.has(p), log: (m) => logs.push(m) });
  if (opts.start !== false) await guard.start();
  return {
    root, guard, telemetry, locked, logs,
    events: (name) => readEvents(root).filter((e) => !name || e.event === name),
    alerts: () => {
      try {
        return fs.readFileSync(path.join(root, 'g/logs/guardrail_alerts.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    file: (rel) => path.join(root, rel),
    close: async () => {
      await guard.close();
      telemetry.close();
    },
  };
}
