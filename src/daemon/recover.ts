/** Crash recovery: every WO left in processing/ is resumed from its state record, exactly once. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { sha256, splitExt } from '../util/fsx.js';
import { parseWo } from '../wo/parse.js';
import { killLeftTree } from '../exec/contain.js';
import { emit, save, TERMINAL_EVENT, type Runtime } from './runtime.js';
import { readTelemetry } from '../state/telemetry.js';
import { rollbackCrashed } from './lifecycle.js';
import { isIgnoredName } from './intake.js';
import { ENTRY_LANE } from './admit.js';
import { routeId } from '../processors/route.js';

export interface Resumable {
  file: string;
  name: string;
  lane: string;
  received: string;
  approved: boolean;
}

let announcedCache: Set<string> | undefined;
/** Terminal events already in the telemetry stream (`wo_id#attempt#event`), read once per recovery. */
function announced(rt: Runtime): Set<string> {
  announcedCache ??= new Set(readTelemetry(rt.L.telemetry).filter((e) => e.wo_id).map((e) => `${e.wo_id}#${e.attempt}#${e.event}`));
  return announcedCache;
}

/** Emit a terminal record's event when a crash lost it (it is written between the record and the move). */
function announceIfLost(rt: Runtime, rec: WoRecord): void {
  const event = TERMINAL.has(rec.status) ? TERMINAL_EVENT[rec.status] : undefined;
  if (event && !announced(rt).has(`${rec.wo_id}#${rec.attempt}#${event}`)) {
    emit(rt, rec, event, { ok: rec.status === 'succeeded', recovered: true, ...(rec.error ? { code: rec.error.code } : {}) });
  }
}

/** The record id a claimed file belongs to (undefined when it does not parse: admission rejects it). */
function idOf(rt: Runtime, bytes: Buffer, name: string, lane: string): string | undefined {
  if (lane === ENTRY_LANE) return routeId(sha256(bytes));
  const p = parseWo(bytes, name, rt.config().limits);
  return p.ok ? p.wo.wo_id : undefined;
}

async function archiveAs(rt: Runtime, file: string, rec: WoRecord): Promise<void> {
  const want = path.resolve(rt.L.root, rec.file);
  let dest = want;
  if (!want.startsWith(rt.L.archive + path.sep)) {
    const { ext } = splitExt(path.basename(file));
    dest = path.join(rt.L.archive, `${rec.wo_id}.${rec.attempt}${ext ? `.${ext}` : ''}`);
  }
  try {
    await fsp.lstat(dest);
    dest = path.join(rt.L.archive, `${path.basename(dest)}.recovered-${Date.now()}`);
  } catch {
    /* free */
  }
  await fsp.rename(file, dest);
  if (path.relative(rt.L.root, dest) !== rec.file) {
    rec.file = path.relative(rt.L.root, dest);
    await save(rt, rec);
  }
}

/** End an interrupted attempt for good (non-idempotent command ran, or attempts used up). */
async function endInterrupted(rt: Runtime, file: string, rec: WoRecord, message: string, givenUp: boolean): Promise<void> {
  rec.status = 'failed';
  rec.error = { code: 'INTERRUPTED', message };
  rec.running_command = null;
  if (givenUp) rec.given_up = true;
  rec.times.finished = rt.now().toISOString();
  const { ext } = splitExt(path.basename(file));
  rec.file = path.relative(rt.L.root, path.join(rt.L.archive, `${rec.wo_id}.${rec.attempt}${ext ? `.${ext}` : ''}`));
  await save(rt, rec);
  emit(rt, rec, 'wo_failed', { ok: false, code: 'INTERRUPTED', message, rolled_back: rec.rolled_back, ...(givenUp ? { given_up: true } : {}) });
  await archiveAs(rt, file, rec);
  rt.hooks.terminal?.(rec);
}

/** Resolve one file found in processing/ or hold/: finish, roll back, end, or hand back for (re)admission. */
async function recoverOne(rt: Runtime, file: string, name: string, lane: string | undefined): Promise<Resumable | undefined> {
  const bytes = await fsp.readFile(file);
  const digest = sha256(bytes);
  let rec: WoRecord | undefined;
  if (lane) {
    const id = idOf(rt, bytes, name, lane);
    rec = id ? await rt.store.read(id) : undefined;
  } else {
    rec = await recordNaming(rt, file, digest);
    if (!rec) return undefined; // a held file whose record does not know it: left for a person (wo status shows holds)
  }
  const asNew = (): Resumable | undefined => (lane ? { file, name, lane, received: new Date().toISOString(), approved: false } : undefined);
  if (!rec || rec.sha256 !== digest) return asNew();
  const want = path.resolve(rt.L.root, rec.file);
  if (want !== file) {
    // A new submission of content that already ended (claimed after the record finished) is admitted afresh.
    const claimedAt = (await fsp.stat(file)).ctimeMs;
    if (rec.times?.finished && claimedAt > Date.parse(rec.times.finished)) return asNew();
    if (await fsp.lstat(want).then(() => true, () => false)) return asNew();
    if (!want.startsWith(rt.L.root + path.sep)) return undefined;
    // The record is ahead of the file (a write-ahead move was interrupted): finish the move it names.
    await fsp.mkdir(path.dirname(want), { recursive: true, mode: 0o700 });
    await fsp.rename(file, want);
    file = want;
    if (!want.startsWith(rt.L.processing + path.sep)) {
      announceIfLost(rt, rec);
      return undefined;
    }
  }
  lane ??= rec.lane;
  const received = rec.times?.received ?? new Date().toISOString();
  const fresh: Resumable = { file, name: rec.source_name ?? name, lane, received, approved: false };
  if (TERMINAL.has(rec.status)) {
    // The crash fell between the terminal record and the archive move: announce it if that was lost too.
    announceIfLost(rt, rec);
    await archiveAs(rt, file, rec);
    return undefined;
  }
  if (rec.status === 'running') {
    const rc = rec.running_command;
    if (rc) await killLeftTree(rc);
    const restored = await rollbackCrashed(rt, rec);
    rec.rolled_back = restored.length > 0 || rec.rolled_back;
    const commandsRan = rec.stage === 'commands' || rc?.phase === 'commands' || rec.commands.some((c) => c.phase === 'commands');
    if (commandsRan && !rec.idempotent) {
      await endInterrupted(rt, file, rec, 'the daemon stopped while the WO\'s commands ran; they are not idempotent, so they are not re-run (file effects were rolled back)', false);
      return undefined;
    }
    if ((rec.tries ?? 1) >= rt.config().attempts) {
      await endInterrupted(rt, file, rec, `the WO was interrupted ${rec.tries ?? 1} times (attempts: ${rt.config().attempts}): given up so it cannot crash-loop the service`, true);
      return undefined;
    }
    rec.status = 'queued';
    rec.running_command = null;
    await save(rt, rec);
  }
  return { ...fresh, approved: rec.approved === true };
}

/** The record that names `file` as where its WO is (held files: their name is `<wo_id>.<ext>`). */
async function recordNaming(rt: Runtime, file: string, digest: string): Promise<WoRecord | undefined> {
  const stem = path.basename(file).replace(/(\.\d+)?\.(ya?ml|json)$/i, '');
  const rec = await rt.store.read(stem).catch(() => undefined);
  return rec && rec.sha256 === digest ? rec : undefined;
}

/** Recover every file in processing/<lane>/ (oldest first), then held files whose record moved on. */
export async function recoverAll(rt: Runtime): Promise<Resumable[]> {
  const out: Resumable[] = [];
  announcedCache = undefined;
  let lanes: string[];
  try {
    lanes = (await fsp.readdir(rt.L.processing, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return out;
  }
  for (const lane of lanes) {
    const dir = path.join(rt.L.processing, lane);
    const entries: { name: string; mtime: number }[] = [];
    for (const name of await fsp.readdir(dir)) {
      if (isIgnoredName(name)) continue;
      const st = await fsp.lstat(path.join(dir, name)).catch(() => undefined);
      if (st?.isFile()) entries.push({ name, mtime: st.mtimeMs });
    }
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const e of entries) {
      try {
        const r = await recoverOne(rt, path.join(dir, e.name), e.name, lane);
        if (r) out.push(r);
      } catch (err) {
        rt.log.error({ file: path.join(dir, e.name), err: String(err) }, 'recovery of a claimed WO failed; it stays in processing/ for the next start');
      }
    }
  }
  for (const name of await fsp.readdir(rt.L.hold).catch(() => [] as string[])) {
    if (isIgnoredName(name)) continue;
    try {
      const r = await recoverOne(rt, path.join(rt.L.hold, name), name, undefined);
      if (r) out.push(r);
    } catch (err) {
      rt.log.error({ file: path.join(rt.L.hold, name), err: String(err) }, 'recovery of a held WO failed; it stays in hold/');
    }
  }
  return out;
}
