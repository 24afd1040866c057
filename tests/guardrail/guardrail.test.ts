import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readHealth } from '../../src/guardrail/index.js';
import { sha256 } from '../../src/util/fsx.js';
import { waitFor } from '../helpers.js';
import { rig, SCRIPT, type Rig } from './setup.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const isExec = (p: string) => (fs.statSync(p).mode & 0o111) !== 0;

describe('guardrail in-process', () => {
  it('starts healthy, vaults the protected file, persists health and beats', async () => {
    r = await rig();
    expect(r.guard.health()).toMatchObject({ healthy: true, drift: [] });
    expect(r.guard.health().protected).toBe(5); // the script + 2 lanes + state + telemetry
    expect(r.events('wo_pipeline_healthy')).toHaveLength(1);
    const h = await readHealth(r.root);
    expect(h).toMatchObject({ healthy: true, protected: 5 });
    const index = JSON.parse(fs.readFileSync(r.file('g/guardrail/vault/index.json'), 'utf8'));
    expect(index['bin/tool.sh']).toMatchObject({ sha256: sha256(SCRIPT), mode: 0o755 });
    expect(fs.readFileSync(r.file(`g/guardrail/vault/${sha256(SCRIPT)}`), 'utf8')).toBe(SCRIPT);
  });

  it('a deleted protected executable ⇒ one drift alert per change of state, not per sweep', async () => {
    r = await rig();
    const rig1 = r;
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => rig1.events('wo_pipeline_drift').length === 1, { what: 'drift event' });
    expect(r.events('wo_pipeline_drift')[0]).toMatchObject({ agent: 'guardrail', ok: false, missing: 'bin/tool.sh' });
    await waitFor(() => rig1.alerts().some((l) => l.includes('DRIFT bin/tool.sh: missing')), { what: 'alert line' });
    const mls = fs.readdirSync(r.file('g/mls/ledger')).flatMap((f) => fs.readFileSync(path.join(rig1.root, 'g/mls/ledger', f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l));
    expect(mls).toEqual([expect.objectContaining({ type: 'incident', tags: ['guardrail'], paths: ['bin/tool.sh'] })]);
    // Sweeps while still missing: no new alert.
    const h = await r.guard.check();
    await r.guard.check();
    expect(h).toMatchObject({ healthy: false, drift: [{ kind: 'missing', path: 'bin/tool.sh' }] });
    expect(r.events('wo_pipeline_drift')).toHaveLength(1);
    expect(r.alerts().filter((l) => l.includes('DRIFT'))).toHaveLength(1);
    expect((await readHealth(r.root))?.healthy).toBe(false);
    // Put back by a person ⇒ recovered once; deleted again ⇒ a second alert.
    fs.writeFileSync(r.file('bin/tool.sh'), SCRIPT, { mode: 0o755 });
    await waitFor(() => rig1.alerts().some((l) => l.includes('RECOVERED bin/tool.sh')), { what: 'recovered' });
    await waitFor(() => rig1.events('wo_pipeline_healthy').some((e) => e.recovered?.includes('bin/tool.sh')), { what: 'healthy again' });
    expect(r.guard.health().healthy).toBe(true);
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => rig1.events('wo_pipeline_drift').length === 2, { what: 'second drift event' });
  });

  it('with restore: true a deleted file comes back, executable, same bytes', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => rig1.events('guardrail_restored').length === 1, { what: 'restored event' });
    expect(fs.readFileSync(r.file('bin/tool.sh'), 'utf8')).toBe(SCRIPT);
    expect(isExec(r.file('bin/tool.sh'))).toBe(true);
    expect(r.events('wo_pipeline_drift')).toHaveLength(1);
    expect(r.events('guardrail_restored')[0]).toMatchObject({ agent: 'guardrail', path: 'bin/tool.sh', sha256: sha256(SCRIPT) });
    expect(r.alerts().some((l) => l.includes('RESTORED bin/tool.sh from g/guardrail/vault/'))).toBe(true);
    expect((await r.guard.check()).healthy).toBe(true);
  });

  it('a whole deleted folder is noticed and restored (watch re-armed on the new folder)', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    fs.rmSync(r.file('bin'), { recursive: true });
    await waitFor(() => rig1.events('guardrail_restored').length === 1, { what: 'restored' });
    expect(fs.readFileSync(r.file('bin/tool.sh'), 'utf8')).toBe(SCRIPT);
    // The watch on the recreated bin/ works: a second deletion is seen too.
    fs.unlinkSync(r.file('bin/tool.sh'));
    await waitFor(() => rig1.events('guardrail_restored').length === 2, { what: 'second restore' });
    expect(isExec(r.file('bin/tool.sh'))).toBe(true);
  });

  it('an altered file is kept in the vault before it is restored', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    const edit = '#!/bin/sh\necho "a person typed this"\n';
    fs.writeFileSync(r.file('bin/tool.sh'), edit);
    await waitFor(() => rig1.events('guardrail_restored').length === 1, { what: 'restore of the altered file' });
    expect(fs.readFileSync(r.file('bin/tool.sh'), 'utf8')).toBe(SCRIPT);
    expect(fs.readFileSync(r.file(`g/guardrail/vault/${sha256(edit)}`), 'utf8')).toBe(edit);
    const kept = `g/guardrail/vault/${sha256(edit)}`;
    expect(r.events('wo_pipeline_drift')[0]).toMatchObject({ broken: 'bin/tool.sh', kept });
    expect(r.alerts().filter((l) => l.includes(kept)).length).toBeGreaterThanOrEqual(1);
  });

  it('a chmod -x is restored to the vaulted mode', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    fs.chmodSync(r.file('bin/tool.sh'), 0o644);
    await waitFor(() => rig1.events('guardrail_restored').length === 1, { what: 'mode restore' });
    expect(fs.statSync(r.file('bin/tool.sh')).mode & 0o777).toBe(0o755);
    expect(r.events('wo_pipeline_drift')[0]).toMatchObject({ broken: 'bin/tool.sh', why: 'not executable (mode 0644)' });
  });

  it('a locked path is left alone until unlocked', async () => {
    r = await rig({ restore: true });
    r.locked.add('bin/tool.sh');
    fs.unlinkSync(r.file('bin/tool.sh'));
    await r.guard.check();
    await r.guard.check();
    expect(fs.existsSync(r.file('bin/tool.sh'))).toBe(false);
    expect(r.events('wo_pipeline_drift')).toHaveLength(0);
    r.locked.delete('bin/tool.sh');
    await r.guard.unlocked(['bin/tool.sh']);
    expect(fs.readFileSync(r.file('bin/tool.sh'), 'utf8')).toBe(SCRIPT);
    expect(r.events('wo_pipeline_drift')).toHaveLength(1);
    expect(r.events('guardrail_restored')).toHaveLength(1);
  });

  it('acceptChange after an intended change: no false alarm, no fight', async () => {
    r = await rig({ restore: true });
    const next = '#!/bin/sh\necho "v2 from a WO"\n';
    r.locked.add('bin/tool.sh');
    fs.writeFileSync(r.file('bin/tool.sh'), next);
    await r.guard.check();
    await r.guard.acceptChange(['bin/tool.sh']);
    r.locked.delete('bin/tool.sh');
    await r.guard.unlocked(['bin/tool.sh']);
    expect((await r.guard.check()).healthy).toBe(true);
    expect(fs.readFileSync(r.file('bin/tool.sh'), 'utf8')).toBe(next);
    expect(r.events('wo_pipeline_drift')).toHaveLength(0);
    expect(r.events('guardrail_restored')).toHaveLength(0);
    const index = JSON.parse(fs.readFileSync(r.file('g/guardrail/vault/index.json'), 'utf8'));
    expect(index['bin/tool.sh'].sha256).toBe(sha256(next));
  });

  it('acceptChange after an intended deletion drops the expectation', async () => {
    r = await rig({ restore: true });
    fs.writeFileSync(r.file('notes.txt'), 'keep me');
    await r.guard.protect('notes.txt');
    r.locked.add('notes.txt');
    r.locked.add('bin/tool.sh');
    fs.unlinkSync(r.file('notes.txt'));
    fs.unlinkSync(r.file('bin/tool.sh'));
    await r.guard.acceptChange(['notes.txt', 'bin/tool.sh']);
    r.locked.clear();
    await r.guard.unlocked(['notes.txt', 'bin/tool.sh']);
    const h = await r.guard.check();
    expect(h).toMatchObject({ healthy: true, drift: [] });
    expect(fs.existsSync(r.file('notes.txt'))).toBe(false);
    expect(fs.existsSync(r.file('bin/tool.sh'))).toBe(false);
    expect(r.events('wo_pipeline_drift')).toHaveLength(0);
    const prot = JSON.parse(fs.readFileSync(r.file('g/guardrail/protected.json'), 'utf8'));
    expect(prot.paths.map((p: { path: string }) => p.path)).not.toContain('notes.txt');
    expect(prot.retired).toContain('bin/tool.sh');
    // The config-listed file coming back is expected (and vaulted) again.
    fs.writeFileSync(r.file('bin/tool.sh'), SCRIPT, { mode: 0o755 });
    await r.guard.check();
    expect(JSON.parse(fs.readFileSync(r.file('g/guardrail/protected.json'), 'utf8')).retired).toEqual([]);
  });

  it('a path protected at run time (with spaces and unicode) is watched and restored', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    const rel = 'my tools/ünï cödé.sh';
    fs.mkdirSync(r.file('my tools'));
    fs.writeFileSync(r.file(rel), 'echo ü\n', { mode: 0o700 });
    await r.guard.protect(rel);
    expect(r.guard.health().protected).toBe(6);
    fs.unlinkSync(r.file(rel));
    await waitFor(() => rig1.events('guardrail_restored').some((e) => e.path === rel), { what: 'unicode path restored' });
    expect(fs.readFileSync(r.file(rel), 'utf8')).toBe('echo ü\n');
    expect(fs.statSync(r.file(rel)).mode & 0o777).toBe(0o700);
  });

  it('a pipeline folder that vanishes is drift (and recreated with restore)', async () => {
    r = await rig({ restore: true });
    const rig1 = r;
    fs.rmSync(r.file('bridge/inbox/ENTRY'), { recursive: true });
    await waitFor(() => rig1.events('guardrail_restored').some((e) => e.path === 'bridge/inbox/ENTRY'), { what: 'lane recreated' });
    expect(fs.statSync(r.file('bridge/inbox/ENTRY')).isDirectory()).toBe(true);
    expect(r.events('wo_pipeline_drift')[0]).toMatchObject({ missing: 'bridge/inbox/ENTRY' });
  });

  it('a deleted telemetry folder: the drift is still recorded (the stream reopens)', async () => {
    r = await rig();
    const rig1 = r;
    fs.rmSync(r.file('g/telemetry'), { recursive: true });
    await waitFor(() => rig1.events('wo_pipeline_drift').some((e) => e.missing === 'g/telemetry'), { what: 'drift in the new stream' });
    await waitFor(() => rig1.alerts().some((l) => l.includes('RECOVERED g/telemetry')), { what: 'recovered' });
  });

  it('a healthy sweep emits a heartbeat each time', async () => {
    r = await rig({ extraYaml: '  sweep_s: 1\n' });
    const rig1 = r;
    await waitFor(() => rig1.events('wo_pipeline_healthy').length >= 3, { what: 'heartbeats' });
  });

  it('close() is safe twice and stops reacting', async () => {
    r = await rig({ restore: true });
    await r.guard.close();
    await r.guard.close();
    fs.unlinkSync(r.file('bin/tool.sh'));
    expect(fs.existsSync(r.file('bin/tool.sh'))).toBe(false);
  });
});
