/** The processors, one per WO type: adding a type is one file here plus its schema. */
import type { WoType } from '../state/record.js';
import type { Processor } from './types.js';
import { planTransaction, runTransaction } from './transaction.js';
import { decodeEntry, planEntry, runRoute } from './route.js';
import { ENTRY_LANE } from './types.js';

export type { Processor } from './types.js';

export const PROCESSORS: Readonly<Record<WoType, Processor>> = {
  apply_patch: { agent: 'apply_patch', judged: true, exclusive: () => false, plan: planTransaction, run: runTransaction },
  // An exec WO without `paths` may change anything, so it runs alone and its record says it cannot be rolled back.
  exec: { agent: 'exec', judged: true, exclusive: (wo) => wo.paths === undefined, plan: planTransaction, run: runTransaction },
  route: { agent: 'router', lane: ENTRY_LANE, decode: decodeEntry, judged: false, exclusive: () => false, plan: planEntry, run: async (rt, job, rec) => ({ rec: await runRoute(rt, job, rec) }) },
};

/** The processor that decodes a lane's files itself (ENTRY → route), if any. */
export function laneProcessor(lane: string): Processor | undefined {
  return Object.values(PROCESSORS).find((p) => p.lane === lane && p.decode);
}
