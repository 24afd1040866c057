/** Shared by the upgrade tests: one staged base release and candidates made once, copied into each test's root. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir, waitFor } from '../helpers.js';
import { ensureFirstRelease } from '../../src/upgrade/first.js';
import { CURRENT, linkTarget, releaseBin, releasesDir } from '../../src/upgrade/releases.js';
import { readLock } from '../../src/daemon/lock.js';
import { sameProcess } from '../../src/exec/proc.js';

export const ROOT_CONFIG = 'http:\n  enabled: false\nconcurrency: 4\nintake:\n  rescan_s: 2\npolicy:\n  autonomy: auto\nnotify:\n  desktop: false\nupgrade:\n  min_free_bytes: 0\n  ready_deadline_s: 30\n  restart: self\n';

/** A copy of this worktree (sources only) with a version and package.json/bin changes: a candidate checkout. */
export function candidate(version: string, opts: { testScript?: string; binPrelude?: string } = {}): string {
  const dir = tempDir('wo-cand-');
  for (const f of fs.readdirSync(REPO)) {
    if (['node_modules', 'dist', '.git', 'g', 'bridge', 'coverage'].includes(f)) continue;
    fs.cpSync(path.join(REPO, f), path.join(dir, f), { recursive: true });
  }
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  pkg.version = version;
  pkg.scripts['test:upgrade'] = opts.testScript ?? 'node -e 0';
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');
  if (opts.binPrelude) {
    const bin = path.join(dir, 'bin', 'wo');
    const text = fs.readFileSync(bin, 'utf8').split('\n');
    // After the imports: a fault of this candidate (its daemon exits), as a broken release would.
    const at = text.findIndex((l) => l.startsWith('const pkg'));
    text.splice(at, 0, opts.binPrelude);
    fs.writeFileSync(bin, text.join('\n'));
  }
  return dir;
}

/** A candidate whose daemon exits at start (always, or only on a root that has releases: i.e. after the switch). */
export const CRASH_ALWAYS = "if (process.argv.includes('daemon')) { process.stderr.write('candidate: crash at start\\n'); process.exit(3); }";
export const CRASH_LIVE = "if (process.argv.includes('daemon') && fs.existsSync(path.join(process.argv[process.argv.indexOf('--root') + 1] ?? '.', 'g', 'releases'))) { process.stderr.write('candidate: crash on a live root\\n'); process.exit(3); }";

let template: string | undefined;
/** A folder holding g/releases/ with the base release (this worktree) as current, made once per test file. */
export async function baseReleases(): Promise<string> {
  if (template) return template;
  const t = tempDir('wo-upg-template-');
  await ensureFirstRelease(t, REPO);
  template = t;
  return t;
}

/** A fresh root whose g/releases/ is a copy of the template's (no staging cost). */
export async function rootWithRelease(config = ROOT_CONFIG): Promise<string> {
  const t = await baseReleases();
  const root = tempDir('wo-upg-root-');
  fs.writeFileSync(path.join(root, 'wo.config.yaml'), config);
  fs.mkdirSync(path.join(root, 'g'));
  const r = spawnSync('cp', ['-a', releasesDir(t), releasesDir(root)]);
  if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
  return root;
}

const started = new Set<number>();

/** Start the current release's daemon on a root (as the unit would) and wait until it is ready. */
export async function startCurrent(root: string): Promise<number> {
  const dir = releasesDir(root);
  const bin = releaseBin(path.join(dir, linkTarget(dir, CURRENT)!));
  const out = fs.openSync(path.join(root, 'daemon.out'), 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', WO_NOTIFY_DESKTOP: '0' };
  delete env.WO_ROOT;
  const child = spawn(process.execPath, [bin, 'daemon', '--root', root], { stdio: ['ignore', out, out], env, detached: true });
  fs.closeSync(out);
  child.unref();
  started.add(child.pid!);
  await waitReadyPid(root, (pid) => pid === child.pid);
  return child.pid!;
}

/** Wait until a daemon matching `which` holds the root's lock and says ready; returns its pid. */
export async function waitReadyPid(root: string, which: (pid: number) => boolean = () => true, timeout = 60_000): Promise<number> {
  return waitFor(async () => {
    const l = await readLock(path.join(root, 'g/run/daemon.lock'));
    if (!l.held || !l.info || !which(l.info.pid)) return false;
    try {
      const j = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8'));
      return j.pid === l.info.pid && j.ready === true ? l.info.pid : false;
    } catch {
      return false;
    }
  }, { timeout, what: 'a ready daemon' }) as Promise<number>;
}

/** The daemon that holds the root's lock now. */
export async function lockHolder(root: string): Promise<number | undefined> {
  const l = await readLock(path.join(root, 'g/run/daemon.lock'));
  return l.held ? l.info?.pid : undefined;
}

/** Stop the daemon serving a root (the lock's pid: one the test or the pipeline under test started), and wait. */
export async function stopServing(root: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const l = await readLock(path.join(root, 'g/run/daemon.lock'));
    if (!l.held || !l.info) break;
    const { pid, proc_start } = l.info;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    await waitFor(() => !sameProcess(pid, proc_start), { timeout: 30_000, what: `pid ${pid} to stop` }).catch(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
  }
}

/** Daemons of this (unique, temp) root: every process running `daemon --root <root>` — ones this test started, directly or through the upgrader. */
export function daemonsOf(root: string): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(` daemon --root ${root}`) && !l.includes(' ps ')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Stop every daemon of a root (waiting successors included). */
export async function stopAll(root: string): Promise<void> {
  await stopServing(root);
  for (const pid of daemonsOf(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
