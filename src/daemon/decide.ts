/**
 * The pure first steps of admission, shared by the daemon (admit.ts) and `wo plan` (planonly.ts) so the two can
 * never disagree: what a WO file's bytes are (decode or parse, the type's home lane) and what an earlier record
 * of the same id makes of it. No I/O here.
 */
import type { Config } from '../config/load.js';
import type { ErrorCode } from '../errors.js';
import { PROCESSORS, laneProcessor } from '../processors/index.js';
import type { WoRecord, WoType } from '../state/record.js';
import { parseWo, type ParseError, type WorkOrder } from '../wo/parse.js';

/** A WO file's identity and document: the part of a job its bytes decide. */
export interface Identity {
  sha256: string;
  wo: WorkOrder;
  id: string;
  type: WoType;
  warnings: string[];
  /** ENTRY lane: the decoded document to route. */
  doc?: unknown;
}

/** Why a file is not a WO of this lane: the code admission rejects it with, and the id when it is known. */
export interface NotAWo {
  code: ErrorCode;
  errors: ParseError[];
  wo_id?: string;
  /** Parsed fine but sent to the wrong lane: admission records the rejection under its id and type. */
  identity?: Identity;
}

/** Decode (a lane whose processor reads its own files: ENTRY) or parse and validate, then check the type's home lane. */
export function identify(cfg: Config, bytes: Buffer, name: string, lane: string): { ok: true; identity: Identity } | ({ ok: false } & NotAWo) {
  const own = laneProcessor(lane);
  if (own?.decode) {
    const d = own.decode(bytes, name);
    if (!d.ok) return { ok: false, code: 'PARSE_ERROR', errors: [{ path: '(file)', message: d.message }] };
    return { ok: true, identity: { sha256: d.sha256, wo: d.wo, id: d.id, type: d.wo.type, warnings: [], doc: d.doc } };
  }
  const parsed = parseWo(bytes, name, { ...cfg.limits, lenient: cfg.intake.lenient });
  if (!parsed.ok) return { ok: false, code: parsed.code, errors: parsed.errors, ...(parsed.wo_id !== undefined ? { wo_id: parsed.wo_id } : {}) };
  const wo = parsed.wo;
  const identity: Identity = { sha256: parsed.sha256, wo, id: wo.wo_id!, type: wo.type, warnings: parsed.warnings };
  const home = PROCESSORS[wo.type].lane;
  if (home !== undefined && home !== lane) return { ok: false, code: 'INVALID', errors: [{ path: 'type', message: `${wo.type} WOs belong in the ${home} lane` }], wo_id: identity.id, identity };
  return { ok: true, identity };
}

/** What an earlier record of the same id makes of a submission: a duplicate or a conflict is not run; `again` is a new attempt. */
export type Seen = 'new' | 'duplicate' | 'conflict' | 'again';

/** Idempotency: same id + same content as an applied WO is a duplicate; different content is a conflict. */
export function seenAs(prev: WoRecord | undefined, sha256: string): Seen {
  if (!prev) return 'new';
  const applied = (prev.status === 'succeeded' && !prev.dry_run) || prev.status === 'routed';
  if (applied) return prev.sha256 === sha256 ? 'duplicate' : 'conflict';
  return 'again';
}
