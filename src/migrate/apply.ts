/** Apply a migration plan: the merged wo.config.yaml (comments kept, old one backed up), records, the report. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { layout } from '../layout.js';
import { parseConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import { StateStore } from '../state/store.js';
import { ensureDir, freePath, fsyncDir, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import type { MigratePlan } from './plan.js';

export interface ConfigChange {
  changed: boolean;
  added: { files: string[]; dirs: string[]; services: string[] };
  text: string;
}

/** Why: add the plan's guardrail entries to the config text, keeping its comments and order; entries already there stay. Pure. */
export function mergeConfig(text: string, plan: Pick<MigratePlan, 'guardrail'>): ConfigChange {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new UsageError(`wo.config.yaml: ${doc.errors[0]!.message}`);
  if (doc.contents === null) doc.contents = doc.createNode({}) as never; // empty or only comments
  if (!isMap(doc.contents)) throw new UsageError('wo.config.yaml: the top level must be a mapping of keys');
  const added = { files: [] as string[], dirs: [] as string[], services: [] as string[] };
  const seq = (key: string) => {
    const at = doc.getIn(['guardrail', key], true);
    if (at === undefined || at === null) {
      doc.setIn(['guardrail', key], doc.createNode([]));
      return doc.getIn(['guardrail', key], true);
    }
    if (!isSeq(at)) throw new UsageError(`wo.config.yaml: guardrail.${key} is not a list`);
    if (at.items.length === 0) at.flow = false; // `files: []` grows as a block list
    return at;
  };
  const present = (key: string, pick: (v: unknown) => string | undefined): Set<string> => {
    const v = doc.getIn(['guardrail', key]);
    return new Set((Array.isArray((v as { toJSON?: () => unknown })?.toJSON?.()) ? ((v as { toJSON: () => unknown[] }).toJSON()) : []).map(pick).filter((x): x is string => !!x));
  };
  const obj = (v: unknown) => (v && typeof v === 'object' ? ((v as { path?: unknown }).path as string | undefined) : undefined);
  const haveFiles = present('files', obj);
  const haveDirs = present('dirs', obj);
  const haveServices = present('services', (v) => (typeof v === 'string' ? v : undefined));
  const newFiles = plan.guardrail.files.filter((f) => !haveFiles.has(f.path));
  const newDirs = plan.guardrail.dirs.filter((d) => !haveDirs.has(d.path));
  const newServices = plan.guardrail.services.filter((s) => !haveServices.has(s));
  if (newFiles.length) for (const f of newFiles) (seq('files') as { add: (n: unknown) => void }).add(doc.createNode(f)), added.files.push(f.path);
  if (newDirs.length) for (const d of newDirs) (seq('dirs') as { add: (n: unknown) => void }).add(doc.createNode(d)), added.dirs.push(d.path);
  if (newServices.length) for (const s of newServices) (seq('services') as { add: (n: unknown) => void }).add(doc.createNode(s)), added.services.push(s);
  const changed = newFiles.length + newDirs.length + newServices.length > 0;
  return { changed, added, text: changed ? String(doc as Document) : text };
}

export interface Applied {
  config: ConfigChange & { backup?: string };
  imported: string[];
  moved_aside: string[];
  report: { md: string; json: string };
}

const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, '-');

/** Why: write what the plan says, each step durable before the next: records, then the config (after its backup), then the report. */
export async function applyMigration(plan: MigratePlan, now: Date = new Date()): Promise<Applied> {
  const L = layout(plan.root);
  const ts = stamp(now);
  await ensureDir(L.woReports);
  const store = new StateStore(L.state);
  await ensureDir(L.state);
  const imported: string[] = [];
  const movedAside: string[] = [];
  for (const s of plan.state) {
    if (s.action !== 'import' || !s.record) continue;
    if (s.in_place) {
      // The old file is at the record's path: keep it beside the report, then the record takes its place.
      const keep = path.join(L.woReports, `migrate_${ts}.old-state`);
      await ensureDir(keep);
      const dest = await freePath(keep, `${s.id}.json`);
      await fs.rename(path.join(L.state, `${s.id}.json`), dest);
      await fsyncDir(keep);
      await fsyncDir(L.state);
      movedAside.push(path.relative(plan.root, dest));
    }
    const at = await store.inspect(s.record.wo_id);
    if (at.kind !== 'absent') continue; // appeared since the plan: never overwritten
    await store.write(s.record);
    imported.push(s.record.wo_id);
  }
  const cfgFile = L.configFile;
  const before = await fs.readFile(cfgFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const merged = mergeConfig(before, plan);
  let backup: string | undefined;
  if (merged.changed) {
    parseConfig(merged.text, plan.root, {}); // throws CONFIG_INVALID rather than write a config the daemon refuses
    if (before !== '') {
      backup = await freePath(plan.root, `wo.config.yaml.bak-${ts}`);
      await writeFileAtomic(backup, before);
    }
    await writeFileAtomic(cfgFile, merged.text);
  }
  const base = await freePath(L.woReports, `migrate_${ts}.json`);
  const json = base;
  const md = base.replace(/\.json$/, '.md');
  const summary = { ...reportData(plan), applied: { imported, moved_aside: movedAside, config_changed: merged.changed, added: merged.added, backup: backup && path.relative(plan.root, backup) } };
  await writeJsonAtomic(json, summary);
  await writeFileAtomic(md, renderMarkdown(plan, summary.applied));
  return { config: { ...merged, ...(backup ? { backup } : {}) }, imported, moved_aside: movedAside, report: { md, json } };
}

/** The plan without the full records (the report and --json show the ids and statuses). */
export function reportData(plan: MigratePlan): Record<string, unknown> {
  return { ...plan, state: plan.state.map(({ record: _r, ...s }) => s) };
}

/** Why: a person reads the report: what was imported, what was not and why, and what to run next. Pure. */
export function renderMarkdown(plan: MigratePlan, applied?: { imported: string[]; config_changed: boolean; backup?: string }): string {
  const out: string[] = [`# wo migrate from ${plan.from}`, '', `Root: ${plan.root}`, ''];
  out.push('## Critical lists → guardrail', '');
  for (const f of plan.guardrail.files) out.push(`- file \`${f.path}\`${f.executable ? ' (executable)' : ''}`);
  for (const d of plan.guardrail.dirs) out.push(`- dir \`${d.path}\``);
  const notImp = plan.lists.filter((l) => l.why);
  if (notImp.length) out.push('', 'Not importable:', ...notImp.map((l) => `- ${l.list} \`${l.raw}\` in ${l.script}: ${l.why}`));
  out.push('', '## Agents', '');
  for (const a of plan.agents) out.push(`- ${a.kind} ${a.label ?? a.file}: ${a.adopted ? `adopted (runs ${a.points_into})` : `not adopted (${a.why})`}`);
  if (plan.bootout.length) out.push('', "To hand them over to wo's own service (`wo service install`), boot the old agents out (not run by wo migrate):", '', '```sh', ...plan.bootout, '```');
  out.push('', '## Followup state', '');
  for (const s of plan.state) out.push(`- ${s.file}: ${s.action === 'import' ? `import as ${s.id} (${s.status})` : `skipped: ${s.why}`}`);
  if (plan.skipped.length) out.push('', '## Files not read', '', ...plan.skipped.map((s) => `- ${s.file}: ${s.why}`));
  if (applied) out.push('', '## Done', '', `- records imported: ${applied.imported.length}`, `- wo.config.yaml ${applied.config_changed ? `updated${applied.backup ? ` (old one in ${applied.backup})` : ''}` : 'unchanged'}`);
  return out.join('\n') + '\n';
}
