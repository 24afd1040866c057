/** The daemon's process-level resources: releases (LIFO, once each), the logger, the API token, free disk. */
import fsp from 'node:fs/promises';
import crypto from 'node:crypto';
import { writeFileAtomic } from '../util/fsx.js';
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

export async function makeLogger(logFile: string): Promise<Logger> {
  const { default: pino } = await import('pino');
  const file = pino.destination({ dest: logFile, sync: true, mkdir: true });
  const logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream([{ stream: process.stdout }, { stream: file }]));
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
