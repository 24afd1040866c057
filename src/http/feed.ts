/**
 * The dashboard's live rows: each record the daemon writes, as its listing summary (the same one `/api/wos`
 * returns), with the WO's status before the update. Coalesced per WO over a short window and pushed to the event
 * streams as one `wos` message; nothing is kept or computed while no stream listens.
 */
import { EventEmitter } from 'node:events';
import type { StoreListener } from '../state/store.js';
import type { WoRecord } from '../state/record.js';
import { summaryOf, type WoSummary } from '../state/index-query.js';

/** One updated WO: its summary now, and `prev_status` before this batch (null: new to the index; absent: unknown). */
export type FeedItem = WoSummary & { prev_status?: string | null };

/** How long updates are gathered before they go out (one message per window, the latest summary per WO). */
export const FEED_FLUSH_MS = 100;

export class WoFeed {
  /** Emits 'wos' with `FeedItem[]`. */
  readonly bus = new EventEmitter();
  private pending = new Map<string, FeedItem>();
  private timer: NodeJS.Timeout | null = null;

  /** `statusOf`: the WO's status in the index before the write is applied (the daemon's index). */
  constructor(
    private readonly statusOf?: (id: string) => string | null,
    private readonly flushMs = FEED_FLUSH_MS,
  ) {
    this.bus.setMaxListeners(0);
  }

  /** Whether any event stream listens (else a write costs nothing here). */
  get listening(): boolean {
    return this.bus.listenerCount('wos') > 0;
  }

  /** Why: called with the record just written durably (before the index applies it), never by reading the folder. */
  note(rec: WoRecord): void {
    if (!this.listening) return;
    const had = this.pending.get(rec.wo_id);
    let prev: string | null | undefined = had ? had.prev_status : undefined;
    if (!had && this.statusOf) {
      try {
        prev = this.statusOf(rec.wo_id);
      } catch {
        prev = undefined; // a broken index: the client treats the status before as unknown
      }
    }
    this.pending.set(rec.wo_id, { ...summaryOf(rec), ...(prev !== undefined ? { prev_status: prev } : {}) });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Send what was gathered now (one 'wos' message). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending.size) return;
    const items = [...this.pending.values()];
    this.pending.clear();
    this.bus.emit('wos', items);
  }

  /** Why: the store has one listener; this one notes each durable write, then hands it on (to the index). */
  tee(inner: StoreListener | null): StoreListener {
    return {
      writing: (id) => inner?.writing(id),
      written: (rec) => {
        try {
          this.note(rec);
        } catch {
          /* the feed never gets in the way of a write */
        }
        inner?.written(rec);
      },
      failed: (id) => inner?.failed(id),
      ...(inner?.foreign ? { foreign: (name: string, why: string) => inner.foreign!(name, why) } : {}),
    };
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    this.bus.removeAllListeners();
  }
}
