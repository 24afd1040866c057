/** A byte-exact picture of a folder (names, kinds, modes, bytes, link targets), to prove nothing outside changed. */
import fs from 'node:fs';
import path from 'node:path';

/** Every entry below `dir`, never following a link: `rel → kind:mode:content`. */
export function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (abs: string, rel: string) => {
    for (const name of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link:${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir:${mode}`;
        walk(p, r);
      } else out[r] = `file:${mode}:${fs.readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir, '');
  out['.'] = `dir:${(fs.lstatSync(dir).mode & 0o7777).toString(8)}`;
  return out;
}
