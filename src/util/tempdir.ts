/** Throw-away folders for the bench and the tests: made under the OS temp dir, removed at exit (unless WO_KEEP_TEMP). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
let hooked = false;

/** A fresh temp folder (its real path: /tmp may be a symlink). */
export function tempDir(prefix = 'wo-tmp-'): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(d);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      if (process.env.WO_KEEP_TEMP) return;
      for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  return d;
}
