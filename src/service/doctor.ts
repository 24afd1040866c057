/** Preflight checks for `wo doctor`: each one a small function returning ok / warn / fail with the fix. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { layout, runtimeDirs, type Layout } from '../layout.js';
import { loadConfig, parseConfig, type Config } from '../config/load.js';
import { readRunState, type RunState } from './runinfo.js';
import { serviceStatus } from './manage.js';
import { currentSpec, defaultKind, looksVersioned, releaseMainJs, unitLocation } from './units.js';
import { unitProgram, type ServiceKind } from './render.js';
import { CONTAINMENT_TEXT, containment } from '../exec/contain.js';
import { launcherKind } from '../exec/launcher.js';

export type Level = 'ok' | 'warn' | 'fail';
export interface Check {
  name: string;
  level: Level;
  detail: string;
  fix?: string;
}

const MIN_NODE: [number, number] = [20, 19];

/** Node must be at least 20.19 (package.json engines). */
export function checkNode(version: string): Check {
  const [maj = 0, min = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = maj > MIN_NODE[0] || (maj === MIN_NODE[0] && min >= MIN_NODE[1]);
  return ok
    ? { name: 'node', level: 'ok', detail: `${version} (>= ${MIN_NODE.join('.')})` }
    : { name: 'node', level: 'fail', detail: `${version} is older than ${MIN_NODE.join('.')}`, fix: `install Node ${MIN_NODE.join('.')} or newer` };
}

const fmtMode = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;

/** Folder permissions: missing ⇒ warn (the daemon creates them), group/other-writable ⇒ fail, readable by others ⇒ warn. */
export async function checkFolders(L: Layout, lanes: string[], uid = process.getuid?.() ?? -1): Promise<Check[]> {
  let existingLanes: string[] = [];
  try {
    existingLanes = (await fsp.readdir(L.inbox, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    /* no inbox yet */
  }
  const laneDirs = [...new Set([...lanes, ...existingLanes])].map((l) => path.join(L.inbox, l));
  const laneSet = new Set(laneDirs);
  const rel = (d: string) => path.relative(L.root, d) || '.';
  const checks: Check[] = [];
  const missing: string[] = [];
  const loose: string[] = [];
  for (const dir of [...runtimeDirs(L), ...laneDirs]) {
    let st: fs.Stats;
    try {
      st = await fsp.lstat(dir);
    } catch {
      missing.push(rel(dir));
      continue;
    }
    const what = laneSet.has(dir) ? 'inbox lane' : 'folder';
    if (!st.isDirectory()) {
      checks.push({ name: 'folders', level: 'fail', detail: `${rel(dir)} is not a folder`, fix: `move ${dir} aside; the daemon recreates it` });
      continue;
    }
    if (uid >= 0 && st.uid !== uid) {
      checks.push({ name: 'folders', level: 'fail', detail: `${what} ${rel(dir)} is owned by uid ${st.uid}, not by you (uid ${uid}); the daemon refuses it`, fix: `chown ${uid} ${dir}` });
      continue;
    }
    if (st.mode & 0o022) {
      checks.push({ name: 'folders', level: 'fail', detail: `${what} ${rel(dir)} is group/other-writable (mode ${fmtMode(st.mode)}): anyone could drop work orders or swap files`, fix: `chmod go-w ${dir}` });
    } else if (st.mode & 0o077) {
      loose.push(dir);
    }
  }
  if (missing.length) checks.push({ name: 'folders', level: 'warn', detail: `missing (the daemon creates them at start): ${missing.join(', ')}` });
  if (loose.length) checks.push({ name: 'folders', level: 'warn', detail: `readable by others (the daemon creates 0700): ${loose.map(rel).join(', ')}`, fix: `chmod 700 ${loose.join(' ')}` });
  try {
    const st = await fsp.stat(L.tokenFile);
    if (st.mode & 0o077) checks.push({ name: 'token', level: 'fail', detail: `${rel(L.tokenFile)} is readable by others (mode ${fmtMode(st.mode)})`, fix: `chmod 600 ${L.tokenFile}` });
  } catch {
    /* no token yet: the daemon writes it */
  }
  if (!checks.length) checks.push({ name: 'folders', level: 'ok', detail: `all ${runtimeDirs(L).length + laneDirs.length} runtime folders present and private` });
  return checks;
}

/** Free space on the root's file system against limits.min_free_bytes. */
export async function checkDisk(root: string, minFree: number): Promise<Check> {
  const mb = (n: number) => `${Math.round(n / (1024 * 1024))} MiB`;
  try {
    const s = await fsp.statfs(root);
    const free = s.bavail * s.bsize;
    return free >= minFree
      ? { name: 'disk', level: 'ok', detail: `${mb(free)} free (floor ${mb(minFree)})` }
      : { name: 'disk', level: 'fail', detail: `${mb(free)} free, below limits.min_free_bytes (${mb(minFree)}): the daemon will not claim WOs`, fix: 'free disk space, or lower limits.min_free_bytes' };
  } catch (err) {
    return { name: 'disk', level: 'fail', detail: `cannot stat the file system of ${root}: ${(err as Error).message}`, fix: 'check that the root exists' };
  }
}

/** git is needed by check-history and forensics. */
export function checkGit(): Check {
  const r = spawnSync('git', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0
    ? { name: 'git', level: 'ok', detail: r.stdout.trim() }
    : { name: 'git', level: 'warn', detail: 'git is not on PATH: check-history and forensics cannot read history', fix: 'install git' };
}

/** How far a command's process tree is contained here (as this process sees it; a service's own cgroup may differ). */
export function checkContainment(): Check {
  const mode = containment();
  const launcher = launcherKind() === 'perl' ? 'perl launcher' : 'node launcher (no perl found: ~70 ms more per command)';
  return { name: 'containment', level: 'ok', detail: `command containment: ${CONTAINMENT_TEXT[mode]}; ${launcher}` };
}

/** The lock: running, stale (taken over at the next start) or free. */
export function checkLock(run: RunState): Check {
  switch (run.state) {
    case 'absent':
      return { name: 'lock', level: 'ok', detail: 'no daemon running (lock free)' };
    case 'running':
      return { name: 'lock', level: 'ok', detail: `running (pid ${run.info.pid}${run.info.port ? `, http port ${run.info.port}` : ''}${run.info.ready === false ? ', starting' : ''})` };
    case 'stale':
      return { name: 'lock', level: 'warn', detail: `stale lock from pid ${run.info.pid} (no longer running), will be taken over at the next start` };
    case 'unreadable':
      return { name: 'lock', level: 'warn', detail: `unreadable run info (${run.error}); it is treated as stale`, fix: 'start the daemon; it takes the lock over' };
  }
}

/** The installed unit's program: its node is executable and its entry point (dist/cli/main.js) exists. */
export function checkUnitProgram(kind: ServiceKind, file: string): Check | undefined {
  let prog: { node: string; mainJs: string } | undefined;
  try {
    prog = unitProgram(kind, fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!prog) return { name: 'service', level: 'fail', detail: `${file} has no program to run (ExecStart/ProgramArguments)`, fix: 'wo service install' };
  try {
    fs.accessSync(prog.node, fs.constants.X_OK);
  } catch {
    return { name: 'service', level: 'fail', detail: `the unit's node ${prog.node} is missing or not executable (node upgraded or moved?): the service cannot start`, fix: 'wo service install (it picks a stable node path)' };
  }
  if (!fs.existsSync(prog.mainJs)) return { name: 'service', level: 'fail', detail: `the unit's entry point ${prog.mainJs} is missing (checkout moved or not built?)`, fix: 'npm run build, or wo service install from the current checkout' };
  return undefined;
}

/** The service unit for this root: installed, pointing here, current, and its node and entry point present. */
export function checkService(root: string, config: Config, env: NodeJS.ProcessEnv = process.env): Check {
  const kind = defaultKind();
  try {
    const release = fs.existsSync(releaseMainJs(root)) ? { mainJs: releaseMainJs(root) } : {};
    const spec = currentSpec(root, { stopTimeoutS: Math.ceil(config.shutdown.deadline_s) + 5, env, pathExtra: config.service.path_extra, ...release });
    const st = serviceStatus(spec, { kind, root, env, load: false });
    const fix = `wo service install --root ${root}`;
    if (!st.installed) return { name: 'service', level: 'warn', detail: `no ${kind} unit for this root (${st.file})`, fix };
    if (!st.pointsHere) return { name: 'service', level: 'fail', detail: `${st.file} does not run this root`, fix };
    const broken = checkUnitProgram(kind, st.file);
    if (broken) return { ...broken, fix: broken.fix === 'wo service install' ? fix : broken.fix };
    if (st.legacy) return { name: 'service', level: 'warn', detail: `${st.file} uses the earlier unit name; install renames it to ${unitLocation(kind, root, env).name}`, fix };
    if (!st.upToDate) return { name: 'service', level: 'warn', detail: `${st.file} differs from what install writes now (node, PATH or checkout moved)`, fix };
    if (looksVersioned(spec.node)) return { name: 'service', level: 'warn', detail: `${kind} unit installed, but its node ${spec.node} is version-specific: it breaks at the next node upgrade`, fix: 'put a stable node on the unit\'s PATH (e.g. a symlink in /usr/local/bin or service.path_extra), then wo service install' };
    return { name: 'service', level: 'ok', detail: `${kind} unit installed for this root (${st.file}); its node and entry point exist` };
  } catch (err) {
    return { name: 'service', level: 'warn', detail: `cannot check the service: ${(err as Error).message}` };
  }
}

/** True when nothing listens on 127.0.0.1:port. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The HTTP port: free, or held by our own daemon. */
export async function checkPort(config: Config, run: RunState): Promise<Check> {
  if (!config.http.enabled) return { name: 'http', level: 'ok', detail: 'http is disabled (http.enabled: false)' };
  const port = config.http.port;
  const ours = run.state === 'running' ? run.info.port : null;
  if (port === 0) return { name: 'http', level: 'ok', detail: ours ? `any free port (daemon serves on ${ours})` : 'any free port (http.port: 0)' };
  if (await portFree(port)) return { name: 'http', level: 'ok', detail: `port ${port} is free` + (ours ? ` (the daemon serves on ${ours})` : '') };
  if (ours === port) return { name: 'http', level: 'ok', detail: `port ${port} is in use by this root's daemon` };
  return config.portExplicit
    ? { name: 'http', level: 'fail', detail: `port ${port} (http.port in wo.config.yaml) is in use by another process: the daemon will refuse to start`, fix: 'stop that process, or choose another http.port (0 = any free port)' }
    : { name: 'http', level: 'warn', detail: `default port ${port} is in use by another process: the daemon will pick a free port (see g/run/daemon.json)`, fix: 'set http.port in wo.config.yaml to pin one' };
}

/** Every check, in the order printed. */
export async function runDoctor(root: string, opts: { env?: NodeJS.ProcessEnv; nodeVersion?: string } = {}): Promise<Check[]> {
  const L = layout(root);
  const checks: Check[] = [checkNode(opts.nodeVersion ?? process.version)];
  try {
    if (!(await fsp.stat(L.root)).isDirectory()) throw new Error('not a folder');
    checks.push({ name: 'root', level: 'ok', detail: L.root });
  } catch (err) {
    checks.push({ name: 'root', level: 'fail', detail: `${L.root}: ${(err as Error).message}`, fix: `mkdir -p ${L.root}, or pass the right --root` });
    return checks;
  }
  let config: Config;
  try {
    config = await loadConfig(L.root, opts.env);
    const valid = fs.existsSync(L.configFile) ? 'wo.config.yaml is valid' : 'no wo.config.yaml (all defaults)';
    checks.push(
      config.allowSelfModify
        ? { name: 'config', level: 'warn', detail: `${valid}, but policy.allow_self_modify is true: a WO may rewrite wo.config.yaml, .git/ and the service unit`, fix: 'remove policy.allow_self_modify unless WOs must change the daemon\'s own configuration' }
        : { name: 'config', level: 'ok', detail: valid },
    );
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    checks.push({ name: 'config', level: 'fail', detail: err.message, fix: 'fix wo.config.yaml (wo validate reports the same errors at start)' });
    config = parseConfig('', L.root, opts.env);
  }
  checks.push(...(await checkFolders(L, config.lanes)));
  checks.push(await checkDisk(L.root, config.limits.min_free_bytes));
  checks.push(checkGit());
  checks.push(checkContainment());
  const run = await readRunState(L);
  checks.push(checkLock(run));
  checks.push(checkService(L.root, config, opts.env));
  checks.push(await checkPort(config, run));
  return checks;
}
