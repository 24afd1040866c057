import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/util/fsx.js';
import { runCli, tempDir, waitFor } from '../helpers.js';
import { rig, SCRIPT, type Rig } from './setup.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('guardrail safety', () => {
  it('a protected path that is a symlink is reported broken, never replaced', async () => {
    const outside = tempDir('wo-outside-');
    fs.writeFileSync(path.join(outside, 'target.sh'), 'outside\n', { mode: 0o755 });
    r = await rig({ restore: true, extraYaml: '    - path: link.sh\n', start: false });
    fs.symlinkSync(path.join(outside, 'target.sh'), r.file('link.sh'));
    await r.guard.start();
    expect(r.guard.health().drift).toEqual([expect.objectContaining({ path: 'link.sh', kind: 'broken', code: 'symlink', why: expect.stringMatching(/is a symlink/) })]);
    expect(fs.lstatSync(r.file('link.sh')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(outside, 'target.sh'), 'utf8')).toBe('outside\n');
    expect(r.events('guardrail_restored')).toHaveLength(0);
  });

  it('a symlinked folder on the way is refused: nothing is restored into its target', async () => {
    const outside = tempDir('wo-outside-');
    r = await rig({ restore: true, extraYaml: '    - path: linked/tool.sh\n', start: false });
    fs.symlinkSync(outside, r.file('linked'));
    await r.guard.start();
    expect(r.guard.health().drift).toEqual([expect.objectContaining({ path: 'linked/tool.sh', code: 'symlink' })]);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('a path outside the root is a clear broken entry, not a crash', async () => {
    r = await rig({ restore: true, extraYaml: '    - path: ../escape.sh\n    - path: /etc/passwd\n' });
    const drift = r.guard.health().drift;
    expect(drift.map((d) => d.path).sort()).toEqual(['../escape.sh', '/etc/passwd']);
    for (const d of drift) expect(d).toMatchObject({ kind: 'broken', code: 'invalid_spec', why: expect.stringMatching(/outside the root/) });
    expect(r.events('wo_pipeline_drift')).toHaveLength(2);
    await expect(r.guard.protect('../escape.sh')).rejects.toThrow(/outside the root/);
  });

  it('a corrupt vault entry is reported and never restored', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    const blob = r.file(`g/guardrail/vault/${sha256(SCRIPT)}`);
    fs.chmodSync(blob, 0o600);
    fs.writeFileSync(blob, '#!/bin/sh\nrm -rf "$HOME"\n');
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => rig1.alerts().some((l) => l.includes('NOT RESTORED bin/tool.sh')), { what: 'refusal' });
    expect(r.alerts().find((l) => l.includes('NOT RESTORED'))).toMatch(/is corrupt/);
    expect(fs.existsSync(r.file('bin/tool.sh'))).toBe(false);
    expect(r.events('guardrail_restored')).toHaveLength(0);
    expect(r.guard.health()).toMatchObject({ healthy: false, drift: [{ kind: 'missing', path: 'bin/tool.sh' }] });
  });

  it('a corrupt vault copy of an intact file: the CLI reports it, the daemon repairs it from the file', async () => {
    r = await rig({ restore: true });
    await r.close();
    const root = r.root;
    const blob = r.file(`g/guardrail/vault/${sha256(SCRIPT)}`);
    fs.writeFileSync(blob, 'garbage');
    const c = runCli(['guardrail', 'check'], { root });
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/bin\/tool\.sh: broken — its vault copy .* is corrupt/);
    // A fresh guardrail on the same root repairs the copy from the intact file.
    r = undefined;
    const again = await rigOn(root);
    r = again;
    expect(again.guard.health().healthy).toBe(true);
    expect(fs.readFileSync(blob, 'utf8')).toBe(SCRIPT);
  });

  it('a corrupt or hostile vault index is survived', async () => {
    r = await rig({ restore: true, start: false });
    fs.mkdirSync(r.file('g/guardrail/vault'), { recursive: true });
    fs.writeFileSync(r.file('g/guardrail/vault/index.json'), JSON.stringify({ 'bin/tool.sh': { sha256: '../../../../etc/passwd', mode: 0o755 } }));
    await r.guard.start();
    expect(r.guard.health().healthy).toBe(true);
    fs.writeFileSync(r.file('g/guardrail/vault/index.json'), '{not json');
    expect((await r.guard.check()).healthy).toBe(true);
    expect(r.logs.some((l) => /index\.json: unreadable/.test(l))).toBe(true);
  });
});

/** A started guardrail on an existing root (its wo.config.yaml as is). */
async function rigOn(root: string): Promise<Rig> {
  const { loadConfig } = await import('../../src/config/load.js');
  const { createGuardrail } = await import('../../src/guardrail/index.js');
  const { Telemetry } = await import('../../src/state/telemetry.js');
  const { readEvents } = await import('../helpers.js');
  const config = await loadConfig(root);
  const telemetry = new Telemetry(path.join(root, 'g/telemetry/unified.jsonl'), config.telemetry.rotate_bytes);
  const logs: string[] = [];
  const guard = createGuardrail({ config, telemetry, isLocked: () => false, log: (m) => logs.push(m) });
  await guard.start();
  return {
    root, guard, telemetry, locked: new Set(), logs,
    events: (name) => readEvents(root).filter((e) => !name || e.event === name),
    alerts: () => [],
    file: (rel) => path.join(root, rel),
    close: async () => {
      await guard.close();
      telemetry.close();
    },
  };
}
