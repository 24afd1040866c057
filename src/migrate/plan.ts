/** `wo migrate`: what an old setup under DIR becomes in wo (critical lists, agents, state records). */
import fs from 'node:fs/promises';
import path from 'node:path';
import { layout } from '../layout.js';
import { sha256 } from '../util/fsx.js';
import { recordProblem } from '../state/valid.js';
import type { WoRecord } from '../state/record.js';
import { criticalLists, type ListName } from './shell-lists.js';
import { bootOutCommand, parsePlist, parseUnit, pointsInto, type Agent } from './agents.js';
import { importedRecord } from './state.js';
import { scanState, scanTree, type Skipped } from './scan.js';

export interface MigrateOptions {
  from: string;
  root: string;
  /** Extra folders holding agents (LaunchAgents-style plists, systemd units). */
  agents?: string[];
  /** `$HOME` / `~` in the old scripts (default: the environment's HOME). */
  home?: string;
  now?: Date;
}

export interface ListItem {
  list: ListName;
  script: string;
  raw: string;
  /** The guardrail path, relative to the root. */
  path?: string;
  why?: string;
}
export interface AgentItem {
  file: string;
  kind: Agent['kind'];
  label?: string;
  /** The program word that points into DIR (adopted), if any. */
  points_into?: string;
  adopted: boolean;
  why?: string;
}
export interface StateItem {
  file: string;
  id?: string;
  status?: string;
  action: 'import' | 'skip';
  why?: string;
  /** The old file sits at the record's own path (migrating in place): it is moved aside first. */
  in_place?: boolean;
  record?: WoRecord;
}

export interface MigratePlan {
  from: string;
  root: string;
  home: string | null;
  lists: ListItem[];
  agents: AgentItem[];
  state: StateItem[];
  skipped: Skipped[];
  guardrail: { files: { path: string; executable?: boolean }[]; dirs: { path: string }[]; services: string[] };
  bootout: string[];
}

const inside = (abs: string, dir: string) => abs === dir || abs.startsWith(dir + path.sep);

/** Why: the whole import as data (nothing written): the dry run prints it, the real run applies it. */
export async function planMigration(o: MigrateOptions): Promise<MigratePlan> {
  const from = path.resolve(o.from);
  const root = path.resolve(o.root);
  const home = o.home ?? process.env.HOME;
  const now = o.now ?? new Date();
  const L = layout(root);
  const realFrom = await fs.realpath(from);
  const realRoot = await fs.realpath(root).catch(() => root);
  const rel = (abs: string) => (inside(abs, from) ? path.relative(from, abs) || '.' : abs);
  const skipped: Skipped[] = [];

  // The old setup's own files (its state and wo's folders when migrating in place are not scripts to scan).
  const tree = await scanTree(from, [path.join(from, 'g', 'followup'), path.join(from, 'g', 'backups'), path.join(from, 'g', 'telemetry')]);
  skipped.push(...tree.skipped.map((s) => ({ ...s, file: rel(s.file) })));
  const extra = [];
  for (const d of o.agents ?? []) {
    const t = await scanTree(d);
    extra.push(...t.found.filter((f) => f.kind !== 'script'));
    skipped.push(...t.skipped);
  }

  // 1. Critical lists → guardrail.files / guardrail.dirs (inside the root only).
  const lists: ListItem[] = [];
  for (const f of tree.found.filter((x) => x.kind === 'script')) {
    const got = criticalLists(f.text, home);
    if (got.error && /CRITICAL_(FILES|DIRS)/.test(f.text)) skipped.push({ file: rel(f.abs), why: got.error });
    for (const e of got.entries) {
      const item: ListItem = { list: e.list, script: rel(f.abs), raw: e.raw };
      if (e.value === undefined) item.why = e.why;
      else {
        // Relative entries are relative to the old setup (the seeds' "$BASE/$file"); the root may be reached by
        // its own spelling, its real path, or (migrating in place) the old setup's spellings.
        const abs = path.resolve(from, e.value);
        const bases = [root, realRoot, ...(realFrom === realRoot ? [from, realFrom] : [])];
        const base = bases.find((b) => inside(abs, b) && abs !== b);
        if (base === undefined) item.why = `${abs} is outside the root ${root}: the guardrail watches the root only`;
        else item.path = path.relative(base, abs);
      }
      lists.push(item);
    }
  }
  const files: MigratePlan['guardrail']['files'] = [];
  const dirs: MigratePlan['guardrail']['dirs'] = [];
  for (const l of lists) {
    if (!l.path) continue;
    if (l.list === 'CRITICAL_DIRS') {
      if (!dirs.some((d) => d.path === l.path)) dirs.push({ path: l.path });
    } else if (!files.some((f) => f.path === l.path)) {
      const st = await fs.stat(path.join(root, l.path)).catch(() => undefined);
      files.push(st?.isFile() && st.mode & 0o111 ? { path: l.path, executable: true } : { path: l.path });
    }
  }

  // 2. Agents whose program points into DIR → guardrail.services, and the commands to boot them out.
  const agents: AgentItem[] = [];
  const services: string[] = [];
  const bootout: string[] = [];
  for (const f of [...tree.found.filter((x) => x.kind !== 'script'), ...extra]) {
    const name = path.basename(f.abs);
    const got = f.kind === 'plist' ? parsePlist(f.text, name) : parseUnit(f.text, name);
    if (!got.agent) {
      agents.push({ file: rel(f.abs), kind: f.kind === 'plist' ? 'launchd' : 'systemd', adopted: false, why: got.why });
      continue;
    }
    const hit = pointsInto(got.agent, from) ?? (realFrom !== from ? pointsInto(got.agent, realFrom) : undefined);
    agents.push({ file: rel(f.abs), kind: got.agent.kind, label: got.agent.label, adopted: !!hit, ...(hit ? { points_into: hit } : { why: `its program does not point into ${from}` }) });
    if (hit && !services.includes(got.agent.label)) {
      services.push(got.agent.label);
      bootout.push(bootOutCommand(got.agent));
    }
  }

  // 3. Followup state files → records marked imported (never over a wo record).
  const state: StateItem[] = [];
  const src = path.join(from, 'g', 'followup', 'state');
  const inPlace = path.resolve(await fs.realpath(src).catch(() => src)) === path.resolve(await fs.realpath(L.state).catch(() => L.state));
  const { StateStore } = await import('../state/store.js');
  const store = new StateStore(L.state);
  const ids = new Set<string>();
  for (const f of (await scanState(src)).files) {
    const fileRel = rel(f.abs);
    if (f.text === undefined) {
      state.push({ file: fileRel, action: 'skip', why: f.why });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(f.text);
    } catch {
      state.push({ file: fileRel, action: 'skip', why: 'is not JSON' });
      continue;
    }
    if (recordProblem(value, f.name.replace(/\.json$/, '')) === undefined) {
      state.push({ file: fileRel, action: 'skip', why: 'is a wo record already' });
      continue;
    }
    const got = importedRecord(value, f.name, sha256(f.text), fileRel, now);
    if (!got.record) {
      state.push({ file: fileRel, action: 'skip', why: got.why });
      continue;
    }
    const id = got.record.wo_id;
    if (ids.has(id)) {
      state.push({ file: fileRel, id, action: 'skip', why: `another old state file already gives the id ${id}` });
      continue;
    }
    ids.add(id);
    const at = await store.inspect(id);
    if (at.kind === 'ok') {
      const imported = (at.record as { imported?: boolean }).imported === true;
      state.push({ file: fileRel, id, action: 'skip', why: imported ? 'already imported' : 'a wo record with this id exists (never overwritten)' });
      continue;
    }
    const samePath = inPlace && f.name === `${id}.json`;
    if (at.kind === 'foreign' && !samePath) {
      state.push({ file: fileRel, id, action: 'skip', why: `${at.file} ${at.why}: not wo's, left alone` });
      continue;
    }
    state.push({ file: fileRel, id, status: got.record.status, action: 'import', record: got.record, ...(samePath && at.kind === 'foreign' ? { in_place: true } : {}) });
  }
  return { from, root, home: home ?? null, lists, agents, state, skipped, guardrail: { files, dirs, services }, bootout };
}
