/** Every path a WO names, judged lexically at once, so a refusal lists them all (SPEC §6: refused at every level). Pure. */
import { WoError } from '../errors.js';
import type { WorkOrder } from '../wo/parse.js';
import { lexicalTarget, type PathPolicy, type Target } from './paths.js';

export interface NamedTarget {
  /** Where the path comes from, e.g. `files[0].path`, `patches[1].path`, `delete[0]`, `paths[2]`. */
  where: string;
  target: Target;
}

/** Why: the daemon refuses a WO with every bad path listed, before snapshotting anything. */
export function woTargets(wo: WorkOrder, ctx: PathPolicy): { targets: NamedTarget[]; refusals: string[] } {
  const named: { where: string; path: string }[] = [
    ...wo.files.map((f, i) => ({ where: `files[${i}].path`, path: f.path })),
    ...wo.patches.map((p, i) => ({ where: `patches[${i}].path`, path: p.path })),
    ...wo.delete.map((p, i) => ({ where: `delete[${i}]`, path: p })),
    ...(wo.paths ?? []).map((p, i) => ({ where: `paths[${i}]`, path: p })),
  ];
  const targets: NamedTarget[] = [];
  const refusals: string[] = [];
  for (const n of named) {
    try {
      targets.push({ where: n.where, target: lexicalTarget(n.path, ctx) });
    } catch (err) {
      if (!(err instanceof WoError)) throw err;
      refusals.push(`${n.where}: ${err.message}`);
    }
  }
  return { targets, refusals };
}
