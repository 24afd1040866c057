/** The first release of a root, staged from the checkout `wo service install` runs from. */
import path from 'node:path';
import { CURRENT, linkTarget, releasesDir, sealRelease, switchLink } from './releases.js';
import { resolveSource, stageRelease } from './stage.js';

/** Why: the unit runs g/releases/current, so installing the service needs a release; an existing one is kept. */
export async function ensureFirstRelease(root: string, checkout: string): Promise<{ name: string; created: boolean; detail: string }> {
  const dir = releasesDir(root);
  const cur = linkTarget(dir, CURRENT);
  if (cur) return { name: cur, created: false, detail: `release ${cur} is current` };
  const s = await stageRelease(dir, await resolveSource({ checkout }));
  if (s.outcome.status === 'failed' || !s.name) throw new Error(`staging the first release from ${checkout} failed: ${s.outcome.summary}\n${s.outcome.output ?? ''}`);
  await sealRelease(s.dir!);
  await switchLink(dir, CURRENT, s.name);
  return { name: s.name, created: true, detail: `${s.outcome.summary}; ${path.join(dir, CURRENT)} → ${s.name}` };
}
