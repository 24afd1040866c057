/** Every path a WO names, judged lexically at once, so a refusal lists them all (SPEC §6: refused at every level). Pure. */
import { WoError } from '../errors.js';
import type { WorkOrder } from '../wo/parse.js';
import { lexicalTarget, type PathPolicy, type Target } from './paths.js';

export interface NamedTarget {
  /** Where the path comes from, e.g. `files[0].path`, `patches[1].path`, `delete[0]`, `paths[2]`. */
  where: string;
  /** The path as the WO wrote it. */
  given: string;
  target: Target;
}

export interface Refusal {
  /** The field, e.g. `delete[0]`. */
  path: string;
  message: string;
}

/** Why: the daemon refuses a WO with every bad path listed, before snapshotting anything. */
export function woTargets(wo: WorkOrder, ctx: PathPolicy): { targets: NamedTarget[]; refusals: Refusal[] } {
  const named: { where: string; path: string }[] = [
    ...wo.files.map((f, i) => ({ where: `files[${i}].path`, path: f.path })),
    ...wo.patches.map((p, i) => ({ where: `patches[${i}].path`, path: p.path })),
    ...wo.delete.map((p, i) => ({ where: `delete[${i}]`, path: p })),
    ...(wo.paths ?? []).map((p, i) => ({ where: `paths[${i}]`, path: p })),
    // A plist is confined like any file target (and snapshotted: a re-bootstrap on rollback reads the restored one).
    ...(wo.services ?? []).flatMap((s, i) => (s.kind === 'launchd' ? [{ where: `services[${i}].launchd`, path: s.plist }] : [])),
  ];
  const targets: NamedTarget[] = [];
  const refusals: Refusal[] = [];
  for (const n of named) {
    try {
      targets.push({ where: n.where, given: n.path, target: lexicalTarget(n.path, ctx) });
    } catch (err) {
      if (!(err instanceof WoError)) throw err;
      refusals.push({ path: n.where, message: err.message });
    }
  }
  return { targets, refusals };
}
