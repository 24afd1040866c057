/**
 * Pure: a finished WO record → its OTLP/JSON spans (one trace: the WO, a child per stage, a grandchild per
 * command under its phase's stage). Encoding per the OTLP 1.x JSON mapping: hex ids, enums as integers,
 * 64-bit nanosecond times as decimal strings, attributes as `{key, value: {stringValue|intValue|boolValue}}`.
 */
import type { WoRecord } from '../state/record.js';
import { timelineOf } from '../daemon/timeline.js';

export type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number };
export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 = SPAN_KIND_INTERNAL. */
  kind: 1;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: 0 | 1 | 2; message?: string };
}

/** Random ids (hex): 16 bytes for a trace, 8 for a span. */
export interface IdSource {
  trace(): string;
  span(): string;
}

/** Why: OTLP attribute values are typed; undefined values are left out. */
export function attrs(o: Record<string, string | number | boolean | undefined | null>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [key, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'boolean') out.push({ key, value: { boolValue: v } });
    else if (typeof v === 'number') out.push({ key, value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } });
    else out.push({ key, value: { stringValue: v } });
  }
  return out;
}

const nanos = (msEpoch: number): string => (BigInt(Math.round(msEpoch)) * 1_000_000n).toString();

/** Why: the trace of one attempt, built after the fact from the durable record (nothing is held open while it runs). */
export function spansOf(rec: WoRecord, ids: IdSource, now = Date.now()): OtlpSpan[] {
  const t = timelineOf(rec, now);
  const traceId = ids.trace();
  const common = { 'wo.id': rec.wo_id, 'wo.lane': rec.lane, 'wo.type': rec.type, 'wo.attempt': rec.attempt };
  const failed = rec.status === 'failed';
  const root: OtlpSpan = {
    traceId,
    spanId: ids.span(),
    name: `wo ${rec.type}`,
    kind: 1,
    startTimeUnixNano: nanos(t.start),
    endTimeUnixNano: nanos(t.end),
    attributes: attrs({
      ...common,
      'wo.status': rec.status,
      'wo.title': rec.title,
      'wo.priority': rec.priority,
      'wo.owner': rec.owner,
      'wo.rolled_back': rec.rolled_back,
      'wo.error.code': rec.error?.code,
    }),
    status: failed ? { code: 2, message: rec.error?.message ?? 'failed' } : rec.status === 'succeeded' ? { code: 1 } : { code: 0 },
  };
  const out = [root];
  const stageIds = new Map<string, string>();
  for (const s of t.stages) {
    const spanId = ids.span();
    stageIds.set(s.stage, spanId);
    out.push({
      traceId,
      spanId,
      parentSpanId: root.spanId,
      name: `stage ${s.stage}`,
      kind: 1,
      startTimeUnixNano: nanos(s.start),
      endTimeUnixNano: nanos(s.end),
      attributes: attrs({ ...common, 'wo.status': rec.status, 'wo.stage': s.stage }),
      status: { code: 0 },
    });
  }
  for (const c of t.commands) {
    const bad = c.timed_out || c.signal !== null || (c.exit_code !== null && c.exit_code !== 0);
    out.push({
      traceId,
      spanId: ids.span(),
      parentSpanId: (c.stage && stageIds.get(c.stage)) || root.spanId,
      name: `command ${c.phase}`,
      kind: 1,
      startTimeUnixNano: nanos(c.start),
      endTimeUnixNano: nanos(c.end),
      attributes: attrs({
        ...common,
        'wo.status': rec.status,
        'wo.command.phase': c.phase,
        'wo.command.index': c.index,
        'wo.command.name': c.name,
        'wo.command.timed_out': c.timed_out,
        'process.command_line': c.cmd,
        'process.exit.code': c.exit_code,
        'wo.command.signal': c.signal,
      }),
      status: bad ? { code: 2, message: c.timed_out ? 'timed out' : c.signal ? `killed by ${c.signal}` : `exit ${c.exit_code}` } : { code: 0 },
    });
  }
  return out;
}
