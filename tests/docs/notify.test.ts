/**
 * The notify recipes in docs/notify.md, run as the daemon runs them (src/notify.ts: /bin/sh -c, event JSON on stdin)
 * against stand-in `notify-send` and `osascript` programs that record what they were given.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { notify } from '../../src/notify.js';
import { REPO, tempDir } from '../helpers.js';

/** The `notify.command` of the YAML block after `<!-- recipe: NAME -->`. */
function recipe(name: string): string {
  const md = fs.readFileSync(path.join(REPO, 'docs/notify.md'), 'utf8');
  const m = new RegExp(`<!-- recipe: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(md);
  if (!m) throw new Error(`docs/notify.md has no recipe ${name}`);
  return (YAML.parse(m[1]!) as { notify: { command: string } }).notify.command;
}

const saved = { PATH: process.env.PATH, HOME: process.env.HOME, WO_TEST_OUT: process.env.WO_TEST_OUT };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A folder with stand-in programs first on PATH; returns the file they write to. */
function standIns(): { out: string; bin: string } {
  const dir = tempDir('wo-notify-');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const out = path.join(dir, 'out');
  // notify-send: record each argument, NUL-separated.
  fs.writeFileSync(path.join(bin, 'notify-send'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$WO_TEST_OUT"\n', { mode: 0o755 });
  // osascript -l JavaScript -e CODE: run CODE with the few JXA objects the recipe uses, recording the notification.
  fs.writeFileSync(
    path.join(bin, 'osascript'),
    `#!${process.execPath}
const fs = require('fs');
const a = process.argv.slice(2);
if (a[0] !== '-l' || a[1] !== 'JavaScript' || a[2] !== '-e') { console.error('unexpected osascript args', a); process.exit(2); }
const input = fs.readFileSync(0);
const calls = [];
const $ = { NSFileHandle: { fileHandleWithStandardInput: { readDataToEndOfFile: input } }, NSUTF8StringEncoding: 4,
  NSString: { alloc: { initWithDataEncoding: (d, enc) => ({ js: enc === 4 ? d.toString('utf8') : null }) } } };
const ObjC = { import: (m) => { if (m !== 'Foundation') throw new Error('import ' + m); } };
const Application = { currentApplication: () => ({ includeStandardAdditions: false, displayNotification(text, opts) {
  if (!this.includeStandardAdditions) throw new Error('includeStandardAdditions not set');
  calls.push({ text, ...opts }); } }) };
new Function('$', 'ObjC', 'Application', a[3])($, ObjC, Application);
fs.writeFileSync(process.env.WO_TEST_OUT, JSON.stringify(calls));
`,
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.WO_TEST_OUT = out;
  return { out, bin };
}

const hasJq = spawnSync('jq', ['--version']).status === 0;
const held = { event: 'wo_held', wo_id: 'WO-1', title: `it's "quoted" $(touch pwned)`, reasons: ["program 'rm' is not on policy.allow_commands", 'program git too'] };
const drift = { ts: '2026-01-01T00:00:00.000Z', agent: 'guardrail', event: 'wo_pipeline_drift', root: '/r', broken: 'tools/x.sh', why: 'not executable' };
const failed = { event: 'wo_failed', wo_id: 'WO-2', title: 't', error: { code: 'COMMAND_FAILED', message: "command 'false' failed (exit 1)" } };

describe('notify recipes (docs/notify.md)', () => {
  it('macOS: osascript gets the event as data and shows title, subtitle and text', async () => {
    const { out } = standIns();
    const logs: string[] = [];
    await notify(recipe('macos'), held, { log: (m) => logs.push(m) });
    expect(logs).toEqual([]);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual([{ text: "program 'rm' is not on policy.allow_commands; program git too", withTitle: 'wo: wo_held', subtitle: `WO-1: ${held.title}` }]);
    await notify(recipe('macos'), drift, { log: (m) => logs.push(m) });
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual([{ text: 'not executable', withTitle: 'wo: wo_pipeline_drift', subtitle: 'tools/x.sh' }]);
    expect(logs).toEqual([]);
  });

  it.skipIf(!hasJq)('Linux: notify-send gets a summary and a body built by jq', async () => {
    const { out } = standIns();
    const logs: string[] = [];
    const args = () => fs.readFileSync(out, 'utf8').split('\0').slice(0, -1);
    await notify(recipe('linux'), held, { log: (m) => logs.push(m) });
    expect(args()).toEqual(['--app-name=wo', 'wo: wo_held', `WO-1: ${held.title}\nprogram 'rm' is not on policy.allow_commands; program git too`]);
    await notify(recipe('linux'), failed, { log: (m) => logs.push(m) });
    expect(args()).toEqual(['--app-name=wo', 'wo: wo_failed', "WO-2: t\ncommand 'false' failed (exit 1)"]);
    await notify(recipe('linux'), drift, { log: (m) => logs.push(m) });
    expect(args()).toEqual(['--app-name=wo', 'wo: wo_pipeline_drift', 'tools/x.sh\nnot executable']);
    expect(logs).toEqual([]);
    expect(fs.existsSync('pwned')).toBe(false);
  });

  it('plain sh: every event appended as one JSON line', async () => {
    const home = tempDir('wo-notify-home-');
    process.env.HOME = home;
    const logs: string[] = [];
    await notify(recipe('sh'), held, { log: (m) => logs.push(m) });
    await notify(recipe('sh'), drift, { log: (m) => logs.push(m) });
    expect(logs).toEqual([]);
    const lines = fs.readFileSync(path.join(home, '.wo-notify.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([held, drift]);
  });
});
