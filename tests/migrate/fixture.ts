/** An old shell-script pipeline (seed 003 style) built in temp folders, for `wo migrate` tests. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir } from '../helpers.js';

export interface OldSetup {
  /** The old ~/02luka (also the wo root when migrating in place). */
  old: string;
  home: string;
  launchAgents: string;
}

export function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

export const plistFor = (label: string, program: string[]) => `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
  <key>ProgramArguments</key>
  <array>
${program.map((a) => `    <string>${a}</string>`).join('\n')}
  </array>
  <key>StartInterval</key><integer>15</integer>
</dict></plist>
`;

/** A record as the daemon writes it (valid for StateStore), for collisions. */
export function woRecord(id: string, title: string): Record<string, unknown> {
  return {
    schema: 1, wo_id: id, title, lane: 'CLC', type: 'apply_patch', priority: 'P2', status: 'succeeded', stage: 'commit', stage_index: 9, stages_total: 9,
    attempt: 1, attempts: [{ attempt: 1, status: 'succeeded' }], sha256: 'x', file: `bridge/archive/CLC/${id}.yaml`, source_name: `${id}.yaml`,
    rolled_back: false, dry_run: false, times: { received: '2025-11-13T00:00:00Z' }, files: [], commands: [], tests: [], warnings: [],
  };
}

export function buildOldSetup(opts: { configText?: string } = {}): OldSetup {
  const home = tempDir('wo-mig-home-');
  const old = path.join(home, '02luka');
  const launchAgents = path.join(home, 'Library/LaunchAgents');
  fs.mkdirSync(launchAgents, { recursive: true });
  // The seed's guardrail script, verbatim: double-quoted entries.
  write(path.join(old, 'tools/wo_pipeline_guardrail.zsh'), fs.readFileSync(path.join(REPO, 'tests/fixtures/seed003/wo_pipeline_guardrail.zsh'), 'utf8'), 0o755);
  // Other quoting styles, comments, continuations, expansions, typeset, outside paths, a substitution never run.
  write(path.join(old, 'tools/more_checks.sh'), [
    '#!/bin/bash',
    'BASE="$HOME/02luka"',
    'typeset -a CRITICAL_FILES=(',
    "  'tools/single quoted.zsh'   # a comment",
    '  tools/unquoted.zsh \\',
    '  $HOME/02luka/tools/home_var.zsh "${HOME}/02luka/tools/home_braces.zsh"',
    '  ~/02luka/tools/tilde.zsh',
    '  "$BASE/tools/base_var.zsh"',
    '  /etc/passwd',
    '  "$(touch /tmp/wo-migrate-never-run)"',
    ')',
    'CRITICAL_DIRS=( "agents" ~/02luka/g/reports )',
    'echo "CRITICAL_FILES=( not/an/array )"',
    '',
  ].join('\n'), 0o755);
  // A script without extension, by its shebang.
  write(path.join(old, 'bin/check'), '#!/usr/bin/env zsh\nCRITICAL_DIRS=(bridge/inbox/CLC)\n', 0o755);
  write(path.join(old, 'agents/wo_executor/wo_executor.zsh'), '#!/usr/bin/env zsh\necho run\n', 0o755);
  // Agents: two plists and a unit pointing into the old setup, one plist and one unit that do not.
  write(path.join(launchAgents, 'com.02luka.apply_patch_processor.plist'), plistFor('com.02luka.apply_patch_processor', ['/bin/zsh', '-l', '-c', `${old}/agents/apply_patch_processor/apply_patch_processor.zsh`]));
  write(path.join(launchAgents, 'com.02luka.wo_executor.plist'), plistFor('com.02luka.wo_executor', [`${old}/agents/wo_executor/wo_executor.zsh`]));
  write(path.join(launchAgents, 'com.apple.other.plist'), plistFor('com.apple.other', ['/usr/bin/true']));
  write(path.join(old, 'systemd/luka-tracker.service'), `[Unit]\nDescription=tracker\n[Service]\nExecStart=/bin/zsh ${old}/tools/followup_tracker_update.zsh\n`);
  write(path.join(old, 'systemd/unrelated.service'), '[Service]\nExecStart=/usr/bin/sleep 60\n');
  // Followup state files; one collides with an existing wo record.
  const state = path.join(old, 'g/followup/state');
  write(path.join(state, 'WO-OLD-1.json'), JSON.stringify({ id: 'WO-OLD-1', title: 'old one', status: 'completed', created_at: '2025-11-13T01:50:00Z' }));
  write(path.join(state, 'WO-OLD-2.json'), JSON.stringify({ wo_id: 'WO-OLD-2', status: 'pending' }));
  write(path.join(state, 'old-exist.json'), JSON.stringify({ id: 'WO-EXIST', status: 'failed' }));
  write(path.join(state, 'WO-EXIST.json'), JSON.stringify(woRecord('WO-EXIST', 'a wo record')));
  write(path.join(old, 'wo.config.yaml'), opts.configText ?? '# my wo config\nhttp:\n  enabled: false # no port in tests\nguardrail:\n  # kept\n  files:\n    - path: tools/wo_pipeline_guardrail.zsh\n');
  return { old, home, launchAgents };
}

/** Every file and link under `dir` with its mode and bytes hashed, sorted (the tree-hash a dry run must not change). */
export function treeHash(dir: string, except: (rel: string) => boolean = () => false): string {
  const rows: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (except(rel)) continue;
      const st = fs.lstatSync(p);
      if (e.isSymbolicLink()) rows.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) {
        rows.push(`${rel}/ ${st.mode.toString(8)}`);
        walk(p);
      } else rows.push(`${rel} ${st.mode.toString(8)} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return crypto.createHash('sha256').update(rows.join('\n')).digest('hex');
}
