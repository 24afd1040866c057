/** Crash recovery: every WO left in processing/ is resumed from its state record, exactly once. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { sha256, writeJsonAtomic } from '../util/fsx.js';
import { parseWo } from '../wo/parse.js';
import { killLeftTree } from '../exec/contain.js';
import { emit, TERMINAL_EVENT, type Runtime } from './runtime.js';
import { afterCommit, clearIntent, pendingIntents, transition } from './journal.js';
import { revert } from './actions.js';
import { readTelemetry } from '../state/telemetry.js';
import { rollbackCrashed } from './lifecycle.js';
import { isIgnoredName } from './intake.js';
import { laneProcessor } from '../processors/index.js';

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

/** Emit a transition's event when a crash lost it (it is written between the record and the move). */
function announceIfLost(rt: Runtime, rec: WoRecord): void {
  const event = TERMINAL.has(rec.status) ? TERMINAL_EVENT[rec.status] : rec.status === 'awaiting_approval' ? 'wo_held' : undefined;
  const key = `${rec.wo_id}#${rec.attempt}#${event}`;
  if (event && !announced(rt).has(key)) {
    announced(rt).add(key);
    const fields = event === 'wo_held' ? { ok: true, reasons: rec.hold_reasons ?? [] } : { ok: rec.status === 'succeeded', ...(rec.error ? { code: rec.error.code } : {}) };
    emit(rt, rec, event, { ...fields, recovered: true }, event === 'wo_held' ? 'daemon' : undefined);
  }
}

/** The record id a claimed file belongs to (undefined when it does not parse: admission rejects it). */
function idOf(rt: Runtime, bytes: Buffer, name: string, lane: string): string | undefined {
  const own = laneProcessor(lane)?.decode?.(bytes, name);
  if (own) return own.ok ? own.id : undefined;
  const p = parseWo(bytes, name, { ...rt.config().limits, lenient: rt.config().intake.lenient });
  return p.ok ? p.wo.wo_id : undefined;
}

/** A terminal record whose file is still in processing/ (written before the journal named destinations): archive it. */
async function archiveAs(rt: Runtime, file: string, rec: WoRecord): Promise<void> {
  await transition(rt, rec, rec.status, { name: 'recover-archive', move: { from: file, place: { kind: 'archive', attempt: rec.attempt } } });
}

/** End an interrupted attempt for good (non-idempotent command ran, or attempts used up). */
async function endInterrupted(rt: Runtime, file: string, rec: WoRecord, message: string, givenUp: boolean): Promise<void> {
  rec.error = { code: 'INTERRUPTED', message };
  rec.running_command = null;
  if (givenUp) rec.given_up = true;
  rec.times.finished = rt.now().toISOString();
  await transition(rt, rec, 'failed', {
    name: 'recover-fail',
    move: { from: file, place: { kind: 'archive', attempt: rec.attempt } },
    announce: () => emit(rt, rec, 'wo_failed', { ok: false, code: 'INTERRUPTED', message, rolled_back: rec.rolled_back, ...(givenUp ? { given_up: true } : {}) }),
  });
  await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
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
    if (rec.status === 'rejected') await restoreReason(rt, want, rec);
    if (!want.startsWith(rt.L.processing + path.sep)) {
      announceIfLost(rt, rec);
      return undefined;
    }
  }
  if (rec.status === 'awaiting_approval' && file.startsWith(rt.L.hold + path.sep)) {
    announceIfLost(rt, rec);
    return undefined; // held where its record says: it waits for a person, not for a restart
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
    rec.running_command = null;
    await transition(rt, rec, 'queued', { name: 'recover-requeue' });
  }
  return { ...fresh, approved: rec.approved === true };
}

/** A rejected file whose crash came before its `.reason.json`: the record holds the reason. */
async function restoreReason(rt: Runtime, file: string, rec: WoRecord): Promise<void> {
  if (await fsp.lstat(`${file}.reason.json`).then(() => true, () => false)) return;
  const errors = rec.error?.details ?? [{ path: '(file)', message: rec.error?.message ?? 'rejected' }];
  await writeJsonAtomic(`${file}.reason.json`, { file: path.basename(file), wo_id: rec.wo_id, code: rec.error?.code ?? 'INVALID', errors, ts: rt.now().toISOString() });
}

/** Finish operator reverts a crash interrupted (restoring is idempotent), then forget their intents. */
async function finishIntents(rt: Runtime): Promise<void> {
  for (const it of await pendingIntents(rt)) {
    try {
      const rec = await rt.store.read(it.wo_id);
      if (rec?.status === 'succeeded' && rec.attempt === it.attempt) await revert(rt, rec, `${it.why} (finished by recovery)`, 'daemon');
      else await clearIntent(rt, it.wo_id);
    } catch (err) {
      rt.log.error({ wo_id: it.wo_id, err: String(err) }, 'recovery of an interrupted rollback failed; it is retried at the next start');
    }
  }
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
  await finishIntents(rt);
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
