/**
 * Issue 14: the seed 003 WOs (tests/fixtures/seed003/, verbatim from the seed) run unmodified through a real
 * daemon on a temp root laid out as the seed's `~/02luka` (HOME is a temp folder). The canary, the deployment
 * report (g/reports/) and the guardrail/history scripts (tools/, g/tools/) succeed under the default policy.
 * The rebuild WO is refused for one reason that is not internals: its plist path `../Library/LaunchAgents/…`
 * holds a `..` component (refused under every config). With that one path written absolute inside an allowed
 * root, `launchctl` on the allow list and a stand-in `launchctl` first on exec.path (Linux has none), it is held
 * (its commands name `~/02luka/g/followup/state`, which the guarded level cannot resolve), approved, and succeeds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, REPO, runCli, startDaemon, tempDir, waitFor, type DaemonHandle } from '../helpers.js';

const FIX = path.join(REPO, 'tests/fixtures/seed003');
const fixture = (name: string) => fs.readFileSync(path.join(FIX, name), 'utf8');
let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});

async function settled(root: string, id: string, timeout = 120_000): Promise<Record<string, any>> {
  return (await waitFor(() => {
    const x = readRecord(root, id);
    return x && !['queued', 'running'].includes(x.status) ? x : undefined;
  }, { timeout, what: `${id} settled` }))!;
}

/** The seed's `~/02luka` in a temp HOME, with a stand-in `launchctl` that records loads and lists them. */
function seedHome(config: (home: string, bin: string) => string): { home: string; root: string; bin: string } {
  const home = tempDir('wo-seed-home-');
  const root = path.join(home, '02luka');
  const bin = path.join(home, 'standin-bin');
  fs.mkdirSync(root);
  fs.mkdirSync(bin);
  fs.mkdirSync(path.join(home, 'Library/LaunchAgents'), { recursive: true });
  fs.writeFileSync(path.join(bin, 'launchctl'), [
    '#!/bin/sh',
    '# Stand-in for macOS launchctl (tests only): records calls; `load` marks a label loaded; `list` prints them.',
    'state="$HOME/.standin-launchctl"',
    'echo "$*" >> "$state.calls"',
    'case "$1" in',
    '  load) basename "$2" .plist >> "$state" ;;',
    '  list) printf "PID\\tStatus\\tLabel\\n"; [ -f "$state" ] && while read -r l; do printf "4242\\t0\\t%s\\n" "$l"; done < "$state" ;;',
    'esac',
    'exit 0',
    '',
  ].join('\n'), { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'wo.config.yaml'), config(home, bin));
  return { home, root, bin };
}

describe('seed 003 WOs through the real daemon', () => {
  it('the canary, the deployment report and the guardrail/history scripts run unmodified (default policy)', async () => {
    const { home, root } = seedHome(() => 'http:\n  enabled: false\n');
    daemon = await startDaemon(root, { env: { HOME: home } });
    for (const name of ['WO-CANARY-20251113-TEST', 'WO-20251113-DEPLOY-REPORT', 'WO-20251114-GUARDRAIL-HISTORY']) {
      dropComplete(root, 'CLC', `${name}.yaml`, fixture(`${name}.yaml`));
      const rec = await settled(root, name);
      expect(rec.status, `${name}: ${JSON.stringify(rec.error)}`).toBe('succeeded');
    }
    // The canary: the file (its `$(date)` is text, not run) and its state record, where the seed expects them.
    expect(fs.readFileSync(path.join(root, 'tmp/canary_test.txt'), 'utf8')).toBe('Pipeline test at $(date)\nIf you see this file and a state file, pipeline is working.\n');
    expect(fs.existsSync(path.join(root, 'g/followup/state/WO-CANARY-20251113-TEST.json'))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'g/reports/deploy_20251113.md'), 'utf8')).toContain('WO-20251113-WO-PIPELINE-REBUILD');
    expect(fs.existsSync(path.join(root, 'g/reports/wo_pipeline_rebuild_deployment_20251113.md'))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'g/tools/check_component_history.zsh'), 'utf8')).toBe(fixture('check_component_history.zsh'));
    expect(fs.readFileSync(path.join(root, 'tools/wo_pipeline_guardrail.zsh'), 'utf8')).toBe(fixture('wo_pipeline_guardrail.zsh'));
    expect(fs.statSync(path.join(root, 'g/tools/check_component_history.zsh')).mode & 0o777).toBe(0o755);
  }, 180_000);

  it('the rebuild WO runs unmodified (its `../Library` path in an allowed root, a stand-in launchctl), after approval', async () => {
    const { home, root, bin } = seedHome((h, b) => [
      'http:\n  enabled: false',
      `exec:\n  path: ${JSON.stringify(`${b}:/usr/local/bin:/usr/bin:/bin`)}\n  timeout_s: 120`,
      `policy:\n  allowed_roots: [${JSON.stringify(path.join(h, 'Library/LaunchAgents'))}]`,
      `  allow_commands: [test, "[", "true", "false", echo, printf, cat, ls, grep, wc, head, tail, mkdir, sleep, launchctl]`,
      '',
    ].join('\n'));
    daemon = await startDaemon(root, { env: { HOME: home } });
    const text = fixture('WO-20251113-WO-PIPELINE-REBUILD.yaml');

    // The seed's canary test looks for WO-CANARY-TEST.json (the seed's canary is WO-CANARY-20251113-TEST): a canary
    // under that id first, then the rebuild verbatim.
    dropComplete(root, 'CLC', 'WO-CANARY-TEST.yaml', fixture('WO-CANARY-20251113-TEST.yaml').replace('wo_id: WO-CANARY-20251113-TEST', 'wo_id: WO-CANARY-TEST'));
    expect((await settled(root, 'WO-CANARY-TEST')).status).toBe('succeeded');

    // `../Library/LaunchAgents/x.plist` resolves (in the text, relative to the root) into the allowed root; guarded
    // mode holds it only because its commands read ~/02luka/g/followup/state (wo's own records).
    dropComplete(root, 'CLC', 'WO-20251113-WO-PIPELINE-REBUILD.yaml', text);
    const held = (await waitFor(() => {
      const x = readRecord(root, 'WO-20251113-WO-PIPELINE-REBUILD');
      return x && x.status !== 'queued' && x.status !== 'running' ? x : undefined;
    }, { timeout: 60_000, what: 'rebuild held or settled' }))!;
    expect(held.status, JSON.stringify(held.error)).toBe('awaiting_approval');
    const reasons = (held.hold_reasons as string[]).join('\n');
    expect(reasons, reasons).toMatch(/~\/02luka\/g\/followup\/state/);
    expect(fs.existsSync(path.join(root, 'agents'))).toBe(false);
    const ok = runCli(['approve', 'WO-20251113-WO-PIPELINE-REBUILD'], { root });
    expect(ok.code, ok.stderr).toBe(0);
    const done = await settled(root, 'WO-20251113-WO-PIPELINE-REBUILD', 180_000);
    expect(done.status, JSON.stringify(done.error ?? done.tests)).toBe('succeeded');
    expect(fs.statSync(path.join(root, 'agents/apply_patch_processor/apply_patch_processor.zsh')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(home, 'Library/LaunchAgents/com.02luka.apply_patch_processor.plist'), 'utf8')).toContain('<string>com.02luka.apply_patch_processor</string>');
    const calls = fs.readFileSync(path.join(home, '.standin-launchctl.calls'), 'utf8');
    expect(calls).toContain(`load ${path.join(home, 'Library/LaunchAgents/com.02luka.wo_executor.plist')}`);
    expect(fs.existsSync(path.join(bin, 'launchctl'))).toBe(true);

    // Without the allowed root, the same path is refused as outside the root, before anything runs.
    const outside = text.replaceAll('WO-20251113-WO-PIPELINE-REBUILD', 'WO-REBUILD-OUTSIDE').replaceAll('../Library/LaunchAgents/', '../Elsewhere/');
    dropComplete(root, 'CLC', 'WO-REBUILD-OUTSIDE.yaml', outside);
    const refused = await settled(root, 'WO-REBUILD-OUTSIDE');
    expect(refused.status).toBe('rejected');
    expect(refused.error.code).toBe('POLICY_REFUSED');
    expect(refused.error.message).toContain('is outside the root and policy.allowed_roots');
  }, 300_000);
});
