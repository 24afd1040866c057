import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { notify } from '../../src/notify.js';
import { tempDir, waitFor } from '../helpers.js';
import { rig, type Rig } from './setup.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('notify', () => {
  it('runs the command through /bin/sh with the event JSON on stdin', async () => {
    const out = path.join(tempDir('wo-notify-'), 'got me.json');
    await notify(`cat > '${out}'`, { event: 'wo_failed', wo_id: 'WO-1' });
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual({ event: 'wo_failed', wo_id: 'WO-1' });
  });

  it('never throws: a failing, missing or silent command is logged', async () => {
    const logs: string[] = [];
    await expect(notify('echo boom >&2; exit 3', {}, { log: (m) => logs.push(m) })).resolves.toBeUndefined();
    await expect(notify('definitely-not-a-command-wo', {}, { log: (m) => logs.push(m) })).resolves.toBeUndefined();
    await expect(notify('true', { big: 'x'.repeat(1 << 20) }, { log: (m) => logs.push(m) })).resolves.toBeUndefined();
    await expect(notify(null, {})).resolves.toBeUndefined();
    expect(logs[0]).toMatch(/failed \(exit 3\): boom/);
    expect(logs[1]).toMatch(/exit 127/);
    expect(logs).toHaveLength(2);
  });

  it('is bounded by its timeout, children included', async () => {
    const logs: string[] = [];
    const pidFile = path.join(tempDir('wo-notify-'), 'pgid');
    await notify(`echo $$ > '${pidFile}'; sleep 30 & sleep 30`, {}, { timeoutMs: 200, log: (m) => logs.push(m) });
    expect(logs[0]).toMatch(/timed out after 0.2 s/);
    const pgid = Number(fs.readFileSync(pidFile, 'utf8'));
    await waitFor(() => {
      try {
        process.kill(-pgid, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }, { what: 'the whole process group gone' });
  });

  it('the guardrail notifies a person of drift', async () => {
    const out = path.join(tempDir('wo-notify-'), 'events.jsonl');
    r = await rig({ extraYaml: `notify:\n  command: "cat >> '${out}'"\n` });
    const rig1 = r;
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('"missing":"bin/tool.sh"'), { what: 'notification' });
    const ev = JSON.parse(fs.readFileSync(out, 'utf8').trim().split('\n')[0]!);
    expect(ev).toMatchObject({ event: 'wo_pipeline_drift', agent: 'guardrail', missing: 'bin/tool.sh', root: rig1.root });
  });
});
