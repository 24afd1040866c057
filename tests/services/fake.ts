/** The stand-in service manager for tests: tests/fixtures/fake-manager/{launchctl,systemctl} copied first on exec.path. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir } from '../helpers.js';

export interface FakeManager {
  bin: string;
  state: string;
  /** Every call, one argv line each, oldest first. */
  calls: () => string[];
  /** The config's exec section putting the stand-in first. */
  execPath: string;
}

/** Why: never the system's launchd/systemd: each test gets its own copy of the stand-in and its state. */
export function fakeManager(): FakeManager {
  const bin = tempDir('wo-fake-manager-');
  for (const n of ['launchctl', 'systemctl']) fs.copyFileSync(path.join(REPO, 'tests/fixtures/fake-manager', n), path.join(bin, n));
  for (const n of ['launchctl', 'systemctl']) fs.chmodSync(path.join(bin, n), 0o755);
  const state = path.join(bin, 'state');
  fs.mkdirSync(state);
  return {
    bin,
    state,
    calls: () => (fs.existsSync(path.join(state, 'calls.log')) ? fs.readFileSync(path.join(state, 'calls.log'), 'utf8').split('\n').filter(Boolean) : []),
    execPath: `${bin}:/usr/bin:/bin`,
  };
}

/** A plist whose ProgramArguments run `script` (an absolute path) through /bin/sh. */
export function plist(label: string, script: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>/bin/sh</string>
    <string>${script}</string>
  </array>
  <key>StartInterval</key>
  <integer>15</integer>
</dict>
</plist>
`;
}

/** A root's config with the stand-in first on exec.path. */
export function configFor(fake: FakeManager, extra = ''): string {
  return `http:\n  enabled: false\nexec:\n  path: "${fake.execPath}"\n  manager_timeout_s: 5\npolicy:\n  autonomy: guarded\n  allow_services: [com.acme.poller, acme-poller.service]\n${extra}`;
}
