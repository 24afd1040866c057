/** Gates (step 4): the candidate's own quick tests, then a canary on a throw-away root run by the candidate's daemon. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCmd } from './proc.js';
import { liveCanary, spawnDaemon, stopDaemon, waitReady, liveDaemon } from './handover.js';
import { readPackage } from './stage.js';
import type { StepOutcome } from './report.js';

/** `npm run test:upgrade` in the candidate when it defines it; a warning otherwise. */
export async function testsGate(releaseDir: string, timeoutS: number): Promise<StepOutcome> {
  const pkg = readPackage(releaseDir);
  if (!pkg.scripts?.['test:upgrade']) return { status: 'warning', summary: 'the candidate defines no test:upgrade script: its tests were not run' };
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: '1' };
  delete env.WO_TEST_UPGRADE_CRASH_AT;
  delete env.WO_ROOT;
  const r = await runCmd(['npm', 'run', 'test:upgrade'], { cwd: releaseDir, timeoutMs: timeoutS * 1000, env });
  if (r.code === 0) return { status: 'ok', summary: 'npm run test:upgrade passed', output: r.output };
  return { status: 'failed', summary: `npm run test:upgrade failed (exit ${r.code}${r.timedOut ? `, timed out after ${timeoutS} s` : ''})`, output: r.output };
}

/** The rebuild-style WO of the seed's plan: a command WO that builds an artefact from sources, then verifies it. */
export function rebuildWo(id: string): string {
  return `wo_id: ${id}
title: "Rebuild check (wo upgrade gate)"
owner: wo-upgrade
type: exec
paths: [build]
commands:
  - "mkdir -p build"
  - "cat src/a.txt src/b.txt > build/out.txt"
post_verify:
  - "test -f build/out.txt"
tests:
  - name: "artefact built"
    command: "cat build/out.txt"
    expected: "alpha"
`;
}

/** Start the candidate's daemon on a fresh temp root, run `wo canary` and the rebuild WO through it, stop it. */
export async function canaryGate(releaseDir: string, timeoutS: number): Promise<StepOutcome> {
  const tmp = fs.realpathSync(await fsp.mkdtemp(path.join(os.tmpdir(), 'wo-upgrade-canary-')));
  const log: string[] = [];
  try {
    await fsp.writeFile(path.join(tmp, 'wo.config.yaml'), 'http:\n  enabled: false\npolicy:\n  autonomy: auto\nnotify:\n  desktop: false\n');
    await fsp.mkdir(path.join(tmp, 'src'));
    await fsp.writeFile(path.join(tmp, 'src', 'a.txt'), 'alpha\n');
    await fsp.writeFile(path.join(tmp, 'src', 'b.txt'), '');
    const spawned = spawnDaemon(releaseDir, tmp, path.join(tmp, 'daemon.out'), 0);
    const ready = await waitReady(tmp, { deadlineMs: timeoutS * 1000, spawned });
    const out = () => fs.readFileSync(path.join(tmp, 'daemon.out'), 'utf8');
    if (!ready.ok) return { status: 'failed', summary: `the candidate's daemon did not start on a throw-away root: ${ready.why}`, output: out() };
    const c = await liveCanary(releaseDir, tmp, timeoutS);
    log.push(`wo canary:\n${c.output}`);
    if (!c.ok) return { status: 'failed', summary: "the candidate's canary WO failed on a throw-away root", output: `${log.join('\n')}\n${out()}` };
    const id = `WO-UPGRADE-REBUILD-${Date.now()}`;
    const inbox = path.join(tmp, 'bridge', 'inbox', 'CLC');
    await fsp.mkdir(inbox, { recursive: true });
    await fsp.writeFile(path.join(inbox, `.${id}.tmp`), rebuildWo(id));
    await fsp.rename(path.join(inbox, `.${id}.tmp`), path.join(inbox, `${id}.yaml`));
    const rec = path.join(tmp, 'g', 'followup', 'state', `${id}.json`);
    const until = Date.now() + timeoutS * 1000;
    let status = 'absent';
    while (Date.now() < until) {
      try {
        status = (JSON.parse(await fsp.readFile(rec, 'utf8')) as { status: string }).status;
      } catch {
        /* not yet */
      }
      if (['succeeded', 'failed', 'rejected', 'reverted', 'awaiting_approval', 'cancelled'].includes(status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    log.push(`rebuild WO ${id}: ${status}`);
    if (status !== 'succeeded') return { status: 'failed', summary: `the rebuild WO ended ${status} on the candidate`, output: `${log.join('\n')}\n${out()}` };
    return { status: 'ok', summary: 'canary WO and rebuild WO succeeded on a throw-away root', output: log.join('\n') };
  } finally {
    const live = await liveDaemon(tmp);
    if (live) await stopDaemon(tmp, live, 30_000);
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
  }
}
