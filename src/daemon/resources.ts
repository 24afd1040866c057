/** The daemon's process-level resources: releases (LIFO, once each), the logger, the API token, free disk. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import crypto from 'node:crypto';
import { writeFileAtomic } from '../util/fsx.js';
import { RotatingFile, type RotateLimits } from '../util/rotate.js';
import { registerSecret } from '../exec/redact.js';
import type { Logger } from './runtime.js';

/** Releases run once each, last-in-first-out. */
export class Releases {
  private fns: { name: string; fn: () => Promise<void> | void }[] = [];
  add(name: string, fn: () => Promise<void> | void): void {
    this.fns.push({ name, fn });
  }
  async run(log: Logger): Promise<void> {
    while (this.fns.length) {
      const { name, fn } = this.fns.pop()!;
      try {
        await fn();
      } catch (err) {
        log.error({ err: String(err) }, `release of ${name} failed`);
      }
    }
  }
}

/** True when stdout is a plain file (launchd's StandardOutPath): nobody rotates it, and daemon.log has every line. */
function stdoutIsFile(): boolean {
  try {
    return fs.fstatSync(1).isFile();
  } catch {
    return false;
  }
}

/**
 * Why: one structured log, rotated by size (`logs.rotate_bytes` × `logs.keep`), also on stdout for the journal or
 * a terminal — but not when stdout is a file (launchd), which would grow without bound.
 */
export async function makeLogger(logFile: string, limits: () => RotateLimits): Promise<Logger> {
  const { default: pino } = await import('pino');
  const file = new RotatingFile(logFile, limits);
  const streams = stdoutIsFile() ? [{ stream: file }] : [{ stream: process.stdout }, { stream: file }];
  const logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams));
  return logger as unknown as Logger;
}

/** The HTTP token (made when missing); registered as a secret, so no command output stores its value. */
export async function loadToken(file: string): Promise<string> {
  try {
    const t = (await fsp.readFile(file, 'utf8')).trim();
    if (t.length >= 32) {
      await fsp.chmod(file, 0o600);
      registerSecret(t, 'token');
      return t;
    }
  } catch {
    /* make one */
  }
  const token = crypto.randomBytes(32).toString('hex');
  registerSecret(token, 'token');
  await writeFileAtomic(file, token + '\n', { mode: 0o600 });
  return token;
}

/** Free bytes on the root's file system. */
export async function freeBytes(root: string): Promise<number> {
  const s = await fsp.statfs(root);
  return s.bavail * s.bsize;
}
