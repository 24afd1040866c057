import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readEvents, readRecord, runCli, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

describe('the guardrail inside the real daemon', () => {
  it('restores a deleted protected executable, and does not fight a WO that changes it on purpose', async () => {
    const root = tempRoot('http:\n  enabled: false\nguardrail:\n  restore: true\n  files:\n    - path: tools/run.sh\n      executable: true\n');
    fs.mkdirSync(path.join(root, 'tools'));
    fs.writeFileSync(path.join(root, 'tools/run.sh'), '#!/bin/sh\necho v1\n', { mode: 0o755 });
    daemon = await startDaemon(root);
    fs.rmSync(path.join(root, 'tools/run.sh'));
    await waitFor(() => readEvents(root).some((e) => e.event === 'guardrail_restored'), { timeout: 5000, what: 'restore' });
    expect(readEvents(root).find((e) => e.event === 'wo_pipeline_drift')).toMatchObject({ agent: 'guardrail', ok: false, missing: 'tools/run.sh' });
    await waitFor(() => fs.existsSync(path.join(root, 'tools/run.sh')));
    expect(fs.readFileSync(path.join(root, 'tools/run.sh'), 'utf8')).toBe('#!/bin/sh\necho v1\n');
    expect(fs.statSync(path.join(root, 'tools/run.sh')).mode & 0o111).toBe(0o111);
    expect(fs.readFileSync(path.join(root, 'g/logs/guardrail_alerts.log'), 'utf8')).toContain('tools/run.sh');

    const driftsBefore = readEvents(root).filter((e) => e.event === 'wo_pipeline_drift').length;
    dropComplete(root, 'CLC', 'up.yaml', 'wo_id: WO-UPGRADE\ntitle: t\ntype: apply_patch\nfiles:\n  - path: tools/run.sh\n    mode: "0755"\n    content: "#!/bin/sh\\necho v2\\n"\n');
    await waitFor(() => readRecord(root, 'WO-UPGRADE')?.status === 'succeeded');
    const check = runCli(['guardrail', 'check', '--json'], { root });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, 'tools/run.sh'), 'utf8')).toBe('#!/bin/sh\necho v2\n');
    expect(readEvents(root).filter((e) => e.event === 'wo_pipeline_drift').length).toBe(driftsBefore);
    const st = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(st.guardrail.healthy).toBe(true);
  });
});
