/**
 * The shadow run's copy-on-read view of the live root: a fresh folder holding a copy of wo.config.yaml and of just
 * the paths one WO names (each component as it is in the live root: folders created empty, regular files copied with
 * their bytes and mode, links reproduced as links that point nowhere, a hard-linked file given a second name so it is
 * still refused). A release's `wo plan` runs with `--root <view>`: whatever it does, it cannot write the live root.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { WorkOrder } from '../wo/parse.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy } from '../policy/context.js';

/** Why: a regular file's bytes without following a link at its name (a FIFO or a device is never read, nor waited on). */
export async function readNoFollow(file: string): Promise<Buffer> {
  const fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EINVAL' });
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

let linkSeq = 0;

/** Copy one path's components from `live` into `view`, stopping at the first that is not a folder. */
async function copyChain(live: string, view: string, rel: string, links: string): Promise<void> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  let from = live;
  let to = view;
  for (const part of parts) {
    from = path.join(from, part);
    to = path.join(to, part);
    const st = await fsp.lstat(from).catch(() => undefined);
    if (!st) return; // absent in the live root: absent in the view
    const here = await fsp.lstat(to).catch(() => undefined);
    if (st.isDirectory()) {
      if (!here) await fsp.mkdir(to, { mode: st.mode & 0o7777 });
      continue;
    }
    if (here) return; // already reproduced for another path of this WO
    if (st.isSymbolicLink()) {
      // A link stays a link (the plan refuses links in any component), but it leads nowhere: nothing is reached through it.
      await fsp.symlink(path.join(links, 'a-link-of-the-live-root-leads-nowhere'), to);
    } else if (st.isFile()) {
      await fsp.writeFile(to, await readNoFollow(from), { mode: st.mode & 0o7777 });
      await fsp.chmod(to, st.mode & 0o7777);
      if (st.nlink > 1) await fsp.link(to, path.join(links, `hard-link-${++linkSeq}`));
    }
    return; // a file, a link or anything else ends the walk: the plan judges it as it is
  }
}

/** Why: the view must hold what the plan reads (the config, the WO's targets) and nothing it could write through. */
export async function buildView(liveRoot: string, view: string, liveCfg: Config, wo: WorkOrder | undefined): Promise<void> {
  await fsp.mkdir(view, { recursive: true, mode: 0o700 });
  const links = `${view}.links`;
  await fsp.mkdir(links, { recursive: true, mode: 0o700 });
  const cfg = await readNoFollow(path.join(liveRoot, 'wo.config.yaml')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (cfg) await fsp.writeFile(path.join(view, 'wo.config.yaml'), cfg, { mode: 0o600 });
  if (!wo) return;
  const root = path.resolve(liveRoot);
  for (const { target } of woTargets(wo, pathPolicy(liveCfg)).targets) {
    // Targets in an allowed root outside the live root stay where they are: the plan only reads them.
    if (path.resolve(target.base) === root) await copyChain(root, view, target.rel, links);
  }
}
