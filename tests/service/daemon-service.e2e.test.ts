/** The daemon as a service sees it: exit 78 on a bad config, READY/STOPPING over NOTIFY_SOCKET, one log line per WO outcome, rotated logs. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, startDaemon, tempDir, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
const receivers: ChildProcess[] = [];
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
  for (const r of receivers.splice(0)) if (r.exitCode === null) r.kill('SIGKILL');
});

const havePython = spawnSync('python3', ['--version']).status === 0;
const haveNotify = spawnSync('systemd-notify', ['--version']).status === 0;

/** JSON lines of g/logs/daemon.log (and its rotated files). */
function logLines(root: string, file = 'daemon.log'): Record<string, any>[] {
  try {
    return fs.readFileSync(path.join(root, 'g/logs', file), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

describe('exit status of a daemon that cannot start', () => {
  it('an invalid wo.config.yaml exits 78 (EX_CONFIG) with the reason on stderr', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: yolo\n');
    daemon = await startDaemon(root, { waitReady: false });
    expect(await daemon.exited).toBe(78);
    expect(daemon.output()).toMatch(/policy\.autonomy/);
    expect(daemon.output()).toMatch(/EX_CONFIG/);
  });

  it('unexpected arguments exit 78 too; under launchd a config error exits 0 so KeepAlive does not relaunch it', async () => {
    const root = tempRoot('htpp: {}\n');
    const h = spawnSync(process.execPath, [path.resolve('dist/cli/main.js'), 'daemon', 'extra', '--root', tempRoot()], { encoding: 'utf8', timeout: 30_000 });
    expect(h.status).toBe(78);
    expect(h.stderr).toMatch(/unexpected argument extra/);
    daemon = await startDaemon(root, { waitReady: false, env: { WO_SERVICE_MANAGER: 'launchd' } });
    expect(await daemon.exited).toBe(0);
    expect(daemon.output()).toMatch(/htpp/);
    expect(daemon.output()).toMatch(/so launchd does not relaunch it/);
  });
});

describe('one structured log line per WO outcome', () => {
  it('succeeded, failed and held WOs each get a line with id, lane, type, status, code and duration (file and stdout)', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'ok.yaml', 'wo_id: WO-LOG-OK\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: ok.txt, content: x}\n');
    dropComplete(root, 'CLC', 'bad.yaml', 'wo_id: WO-LOG-BAD\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: bad.txt, content: x}\npost_verify: ["test -f nowhere"]\n');
    dropComplete(root, 'CLC', 'held.yaml', 'wo_id: WO-LOG-HELD\ntitle: t\ntype: exec\npaths: [d]\ncommands: ["mkdir -p d && rm -rf d/x"]\n');
    await waitFor(() => ['WO-LOG-OK', 'WO-LOG-BAD', 'WO-LOG-HELD'].every((id) => logLines(root).some((l) => l.wo_id === id && l.status)), { timeout: 30_000, what: 'three outcome lines' });
    const line = (id: string) => logLines(root).find((l) => l.wo_id === id && l.status)!;
    expect(line('WO-LOG-OK')).toMatchObject({ lane: 'CLC', type: 'apply_patch', status: 'succeeded', code: null, level: 30 });
    expect(line('WO-LOG-OK').duration_ms).toBeGreaterThanOrEqual(0);
    expect(line('WO-LOG-OK').msg).toMatch(/^WO WO-LOG-OK succeeded in \d+ ms \[CLC\/apply_patch\]$/);
    expect(line('WO-LOG-BAD')).toMatchObject({ status: 'failed', code: readRecord(root, 'WO-LOG-BAD')!.error.code, level: 40 });
    expect(line('WO-LOG-HELD')).toMatchObject({ status: 'awaiting_approval', type: 'exec' });
    // The same line reaches stdout, which is what the journal records under systemd.
    expect(daemon.output()).toMatch(/"wo_id":"WO-LOG-OK".*"status":"succeeded"/);
  });
});

describe('log rotation', () => {
  it('daemon.log and guardrail_alerts.log stay within logs.rotate_bytes × (1 + logs.keep)', async () => {
    const root = tempRoot('http:\n  enabled: false\nlogs:\n  rotate_bytes: 1024\n  keep: 2\nguardrail:\n  files:\n    - {path: guarded.txt}\n');
    fs.writeFileSync(path.join(root, 'guarded.txt'), 'x');
    daemon = await startDaemon(root);
    for (let i = 0; i < 12; i++) dropComplete(root, 'CLC', `r${i}.yaml`, `wo_id: WO-ROT-${i}\ntitle: rotation ${i}\ntype: apply_patch\nfiles:\n  - {path: "r${i}.txt", content: x}\n`);
    await waitFor(() => Array.from({ length: 12 }, (_, i) => readRecord(root, `WO-ROT-${i}`)?.status).every((s) => s === 'succeeded'), { timeout: 60_000, what: 'twelve WOs' });
    const logs = path.join(root, 'g/logs');
    await waitFor(() => fs.existsSync(path.join(logs, 'daemon.2.log')), { what: 'two rotations of daemon.log' });
    expect(fs.existsSync(path.join(logs, 'daemon.3.log'))).toBe(false);
    for (const f of ['daemon.log', 'daemon.1.log', 'daemon.2.log']) expect(fs.statSync(path.join(logs, f)).size).toBeLessThanOrEqual(1024 + 1024);
    // Rotated files are whole JSON lines: nothing was cut.
    for (const f of ['daemon.1.log', 'daemon.2.log']) expect(() => logLines(root, f)).not.toThrow();
    // Guardrail alerts: delete the guarded file repeatedly; its alert log rotates too.
    for (let i = 0; i < 30 && !fs.existsSync(path.join(logs, 'guardrail_alerts.1.log')); i++) {
      fs.rmSync(path.join(root, 'guarded.txt'), { force: true });
      await waitFor(() => fs.existsSync(path.join(logs, 'guardrail_alerts.log')) && /DRIFT/.test(fs.readFileSync(path.join(logs, 'guardrail_alerts.log'), 'utf8').split('\n').filter(Boolean).at(-1) ?? ''), { timeout: 20_000, what: 'a drift alert' });
      fs.writeFileSync(path.join(root, 'guarded.txt'), 'x');
      await waitFor(() => /RECOVERED/.test(fs.readFileSync(path.join(logs, 'guardrail_alerts.log'), 'utf8').split('\n').filter(Boolean).at(-1) ?? ''), { timeout: 20_000, what: 'recovered' });
    }
    expect(fs.existsSync(path.join(logs, 'guardrail_alerts.1.log'))).toBe(true);
    expect(fs.statSync(path.join(logs, 'guardrail_alerts.log')).size).toBeLessThanOrEqual(1024);
  });
});

describe.skipIf(!havePython || !haveNotify)('sd_notify (Type=notify)', () => {
  it('sends READY=1 with a status once ready and STOPPING=1 at stop, over NOTIFY_SOCKET; children do not inherit it', async () => {
    const dir = tempDir('wo-notify-');
    const sock = path.join(dir, 'notify.sock');
    // A stand-in for systemd: receives datagrams, closes passed fds (the barrier), prints each message as JSON.
    const py = [
      'import socket, sys, json, os, array',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print(json.dumps("bound"), flush=True)',
      'while True:',
      '    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))',
      '    for lvl, typ, data in anc:',
      '        if typ == socket.SCM_RIGHTS:',
      '            a = array.array("i"); a.frombytes(data[:len(data) - len(data) % 4]); [os.close(fd) for fd in a]',
      '    print(json.dumps(msg.decode()), flush=True)',
    ].join('\n');
    const recv = spawn('python3', ['-c', py, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    receivers.push(recv);
    let got = '';
    recv.stdout!.on('data', (d) => (got += d));
    await waitFor(() => got.includes('"bound"'), { what: 'the receiver to bind' });
    const out = path.join(dir, 'notified.txt');
    const root = tempRoot(`http:\n  enabled: false\nnotify:\n  command: "echo NOTIFY_SOCKET=$NOTIFY_SOCKET >> '${out}'"\npolicy:\n  autonomy: auto\n`);
    daemon = await startDaemon(root, { env: { NOTIFY_SOCKET: sock } });
    await waitFor(() => got.includes('READY=1'), { what: 'READY=1' });
    expect(got).toMatch(/READY=1\\nSTATUS=watching /);
    // The log line is written once systemd-notify has returned, which can trail the datagram under load.
    await waitFor(() => /told systemd the daemon is ready/.test(fs.readFileSync(path.join(root, 'g/logs/daemon.log'), 'utf8')), { what: 'the ready log line' });
    // A failed WO runs notify.command with the daemon's environment: NOTIFY_SOCKET is no longer in it.
    dropComplete(root, 'CLC', 'f.yaml', 'wo_id: WO-N1\ntitle: t\ntype: exec\npaths: [d]\ncommands: ["false"]\n');
    await waitFor(() => fs.existsSync(out), { timeout: 30_000, what: 'notify.command' });
    expect(fs.readFileSync(out, 'utf8').trim()).toBe('NOTIFY_SOCKET=');
    expect(await daemon.stop()).toBe(0);
    expect(got).toMatch(/STOPPING=1/);
  });
});
