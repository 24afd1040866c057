/**
 * The PEER the bench compares against: the "watcher + one handler process per WO" pattern, done durably.
 *   node peer.js watch <root>        long-running fs.watch on <root>/inbox, starts 2 handlers at a time,
 *                                    prints "done <name>" per finished WO
 *   node peer.js handle <root> <name> one WO: claim by rename, parse YAML, state JSON (temp+fsync+rename+dir fsync),
 *                                    write the file atomically, state again, append telemetry, archive
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeAtomic(file: string, data: string, mode = 0o644): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

async function handle(root: string, name: string): Promise<void> {
  const proc = path.join(root, 'processing', name);
  try {
    fs.renameSync(path.join(root, 'inbox', name), proc); // claim
  } catch {
    return; // someone else took it
  }
  fsyncDir(path.join(root, 'processing'));
  const { parse } = await import('yaml');
  const wo = parse(fs.readFileSync(proc, 'utf8')) as { wo_id: string; files: { path: string; content: string }[] };
  const stateFile = path.join(root, 'state', `${wo.wo_id}.json`);
  writeAtomic(stateFile, JSON.stringify({ wo_id: wo.wo_id, status: 'running', started: new Date().toISOString() }));
  for (const f of wo.files) {
    const abs = path.join(root, f.path);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    writeAtomic(abs, f.content);
  }
  writeAtomic(stateFile, JSON.stringify({ wo_id: wo.wo_id, status: 'succeeded', finished: new Date().toISOString() }));
  fs.appendFileSync(path.join(root, 'telemetry.jsonl'), JSON.stringify({ ts: new Date().toISOString(), event: 'wo_completed', wo_id: wo.wo_id }) + '\n');
  fs.renameSync(proc, path.join(root, 'archive', name));
  fsyncDir(path.join(root, 'archive'));
}

function watch(root: string): void {
  const inbox = path.join(root, 'inbox');
  for (const d of ['inbox', 'processing', 'state', 'archive']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const seen = new Set<string>();
  const queue: string[] = [];
  let running = 0;
  const pump = () => {
    while (running < 2 && queue.length) {
      const name = queue.shift()!;
      running++;
      const child = spawn(process.execPath, [SELF, 'handle', root, name], { stdio: 'ignore' });
      child.on('exit', () => {
        running--;
        process.stdout.write(`done ${name}\n`);
        pump();
      });
    }
  };
  const scan = () => {
    for (const name of fs.readdirSync(inbox)) {
      if (name.startsWith('.') || seen.has(name)) continue;
      seen.add(name);
      queue.push(name);
    }
    pump();
  };
  fs.watch(inbox, scan);
  scan();
  process.stdout.write('ready\n');
}

const [mode, root, name] = process.argv.slice(2);
if (mode === 'watch' && root) watch(root);
else if (mode === 'handle' && root && name) await handle(root, name);
else {
  process.stderr.write('usage: peer.js watch <root> | peer.js handle <root> <name>\n');
  process.exitCode = 2;
}
