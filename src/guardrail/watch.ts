/**
 * Change detection through the PARENT folders of protected paths (node fs.watch, not recursive): a
 * watch on a file dies when the file is replaced, a watch on its folder does not. Every folder from
 * the root down to each path's parent is watched, so deleting a whole folder is seen too.
 */
import fs from 'node:fs';
import path from 'node:path';

interface Entry {
  watcher: fs.FSWatcher;
  ino: number;
}

export interface WatchSet {
  /** Watch what `relPaths` need; re-arms folders that were replaced, drops those gone. */
  sync(relPaths: string[]): void;
  close(): void;
}

/** The folders (rel, '' = root) whose entries lead to each path, with the paths under each. */
function foldersFor(relPaths: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of relPaths) {
    const parts = p.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const list = out.get(dir) ?? [];
      list.push(p);
      out.set(dir, list);
    }
  }
  return out;
}

/** `onChange` gets the protected paths an event may concern. */
export function createWatchSet(rootReal: string, onChange: (relPaths: string[]) => void, log: (msg: string) => void): WatchSet {
  const entries = new Map<string, Entry>();
  let wanted = new Map<string, string[]>();
  let closed = false;

  const drop = (dir: string) => {
    entries.get(dir)?.watcher.close();
    entries.delete(dir);
  };

  const affected = (dir: string, filename: string | Buffer | null): string[] => {
    const under = wanted.get(dir) ?? [];
    if (filename === null) return under;
    const name = filename.toString().normalize('NFC');
    const depth = dir === '' ? 0 : dir.split('/').length;
    return under.filter((p) => p.split('/')[depth] === name);
  };

  const arm = (dir: string, abs: string, ino: number) => {
    try {
      const watcher = fs.watch(abs, { persistent: false }, (_event, filename) => {
        if (closed) return;
        const hit = affected(dir, filename);
        if (hit.length) onChange(hit);
      });
      watcher.on('error', () => {
        // The folder went away (or the watch broke): re-check what it covered; sync re-arms.
        drop(dir);
        if (!closed) onChange(wanted.get(dir) ?? []);
      });
      entries.set(dir, { watcher, ino });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') log(`guardrail: cannot watch ${abs}: ${(err as Error).message}`);
    }
  };

  return {
    sync(relPaths) {
      if (closed) return;
      wanted = foldersFor(relPaths);
      for (const dir of [...entries.keys()]) if (!wanted.has(dir)) drop(dir);
      for (const dir of wanted.keys()) {
        const abs = dir === '' ? rootReal : path.join(rootReal, ...dir.split('/'));
        let st: fs.Stats | undefined;
        try {
          st = fs.lstatSync(abs);
        } catch {
          st = undefined;
        }
        const cur = entries.get(dir);
        if (!st || !st.isDirectory()) {
          if (cur) drop(dir);
          continue;
        }
        if (cur && cur.ino === st.ino) continue;
        if (cur) drop(dir);
        arm(dir, abs, st.ino);
      }
    },
    close() {
      closed = true;
      for (const dir of [...entries.keys()]) drop(dir);
    },
  };
}
