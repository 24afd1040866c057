/** The dashboard feed (src/http/feed.ts): idle without listeners, coalesced per WO, the status before from the index. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WoFeed, type FeedItem } from '../../src/http/feed.js';
import { WoIndex } from '../../src/state/index.js';
import { StateStore } from '../../src/state/store.js';
import { record } from './fixtures.js';
import { tempDir } from '../helpers.js';

describe('WoFeed', () => {
  it('keeps nothing while no stream listens', () => {
    const feed = new WoFeed(() => {
      throw new Error('must not be asked');
    });
    feed.note(record({ wo_id: 'WO-1' }));
    const got: FeedItem[][] = [];
    feed.bus.on('wos', (items: FeedItem[]) => got.push(items));
    feed.flush();
    expect(got).toEqual([]);
    feed.close();
  });

  it('teed before the index: each batch holds the latest summary per WO and the status the index had before it', async () => {
    const dir = tempDir();
    fs.mkdirSync(dir, { recursive: true });
    const store = new StateStore(dir);
    const index = WoIndex.fromScan([record({ wo_id: 'WO-A', status: 'queued' })], []);
    const feed = new WoFeed((id) => index.statusOf(id), 60_000);
    store.listener = feed.tee(index.listener());
    const got: FeedItem[][] = [];
    feed.bus.on('wos', (items: FeedItem[]) => got.push(items));
    await store.write(record({ wo_id: 'WO-A', status: 'running', stage: 'apply' }));
    await store.write(record({ wo_id: 'WO-B', status: 'queued' }));
    await store.write(record({ wo_id: 'WO-A', status: 'succeeded' }));
    expect(got).toEqual([]); // gathered until the window ends (here: flushed by hand)
    feed.flush();
    expect(got).toHaveLength(1);
    expect(got[0]!.map((i) => [i.wo_id, i.status, i.prev_status])).toEqual([['WO-A', 'succeeded', 'queued'], ['WO-B', 'queued', null]]);
    // The index applied every write after the feed saw it.
    expect(index.statusOf('WO-A')).toBe('succeeded');
    await store.write(record({ wo_id: 'WO-B', status: 'failed' }));
    feed.flush();
    expect(got[1]!.map((i) => [i.wo_id, i.status, i.prev_status])).toEqual([['WO-B', 'failed', 'queued']]);
    feed.close();
    index.close();
  });
});
