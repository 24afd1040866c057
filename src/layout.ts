/** Every path the daemon uses under its root (SPEC §2), derived in one place. */
import fs from 'node:fs';
import path from 'node:path';

export interface Layout {
  root: string;
  inbox: string;
  processing: string;
  hold: string;
  archive: string;
  rejected: string;
  state: string;
  /** The derived record index (g/followup/index/wo.sqlite): rebuilt from the records when missing or stale. */
  index: string;
  /** Write-ahead intents of operator transitions whose source recovery does not scan (rollback). */
  intents: string;
  telemetryDir: string;
  telemetry: string;
  backups: string;
  vault: string;
  logs: string;
  ledger: string;
  reports: string;
  /** wo's own reports (canary, forensics, migrate): `g/reports/` itself is the user's. */
  woReports: string;
  run: string;
  lockFile: string;
  daemonJson: string;
  tokenFile: string;
  configFile: string;
}

/** Resolve the layout for a root folder (absolute). */
export function layout(root: string): Layout {
  const r = path.resolve(root);
  const g = path.join(r, 'g');
  const bridge = path.join(r, 'bridge');
  return {
    root: r,
    inbox: path.join(bridge, 'inbox'),
    processing: path.join(bridge, 'processing'),
    hold: path.join(bridge, 'hold'),
    archive: path.join(bridge, 'archive'),
    rejected: path.join(bridge, 'rejected'),
    state: path.join(g, 'followup', 'state'),
    index: path.join(g, 'followup', 'index', 'wo.sqlite'),
    intents: path.join(g, 'followup', 'intents'),
    telemetryDir: path.join(g, 'telemetry'),
    telemetry: path.join(g, 'telemetry', 'unified.jsonl'),
    backups: path.join(g, 'backups'),
    vault: path.join(g, 'guardrail', 'vault'),
    logs: path.join(g, 'logs'),
    ledger: path.join(g, 'mls', 'ledger'),
    reports: path.join(g, 'reports'),
    woReports: path.join(g, 'reports', 'wo'),
    run: path.join(g, 'run'),
    lockFile: path.join(g, 'run', 'daemon.lock'),
    daemonJson: path.join(g, 'run', 'daemon.json'),
    tokenFile: path.join(g, 'run', 'token'),
    configFile: path.join(r, 'wo.config.yaml'),
  };
}

/**
 * Why: the daemon's internals are exactly the folders wo owns (SPEC §2), listed here once; the rest of `g/`
 * (`g/reports/`, `g/tools/`, …) is the user's and an ordinary WO target. `g/logs/` is wo's as a whole: it holds
 * only the files wo writes and rotates (daemon.log*, guardrail_alerts.log*, rollback_*.log*), and a user file
 * there would be confused with a rotation (the seeds keep their own logs in `logs/`, not `g/logs/`).
 */
export function internalDirs(l: Layout): string[] {
  const g = path.join(l.root, 'g');
  return [
    path.join(l.root, 'bridge'),
    l.state,
    l.intents,
    path.join(g, 'followup', 'index'),
    l.telemetryDir,
    l.backups,
    l.run,
    path.join(g, 'guardrail'),
    path.join(g, 'mls'),
    l.logs,
    path.join(g, 'releases'),
    path.join(l.reports, 'upgrade'),
    l.woReports,
  ];
}

/** The folders created at start (0700), lanes excluded. */
export function runtimeDirs(l: Layout): string[] {
  return [l.inbox, l.processing, l.hold, l.archive, l.rejected, l.state, l.intents, l.telemetryDir, l.backups, l.vault, l.logs, l.ledger, l.woReports, l.run];
}

/** Does this folder look like a wo root: a wo.config.yaml, or both bridge/ and g/ folders? */
export function looksLikeRoot(dir: string): boolean {
  const isDir = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  return (fs.statSync(path.join(dir, 'wo.config.yaml'), { throwIfNoEntry: false })?.isFile() ?? false) || (isDir(path.join(dir, 'bridge')) && isDir(path.join(dir, 'g')));
}

/** Why: as git finds `.git`, `wo` run from a subfolder of a root works on that root: the nearest folder up that looks like one. */
export function findRootUp(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (looksLikeRoot(dir)) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Resolve the root: --root, else $WO_ROOT, else the nearest root up from the current folder, else the current folder. */
export function resolveRoot(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const given = flag ?? env.WO_ROOT;
  if (given !== undefined && given !== '') return path.resolve(given);
  return findRootUp(cwd) ?? path.resolve(cwd);
}
