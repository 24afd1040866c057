/** `wo logs [-f] [--wo id]`: the telemetry stream, readable. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { paint, rootOf, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { readTelemetry, type TelemetryEvent } from '../../state/telemetry.js';
import { UsageError } from '../../errors.js';

function render(ev: TelemetryEvent, json: boolean): string {
  if (json) return JSON.stringify(ev);
  const { ts, agent, event, ok, wo_id, ...rest } = ev;
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${ts} ${agent.padEnd(11)} ${paint(event.padEnd(20), ok ? 'green' : 'red')} ${wo_id ?? ''} ${extra}`.trimEnd();
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('print the telemetry stream (g/telemetry/unified.jsonl), readable')
    .option('-f, --follow', 'keep printing new events')
    .option('--wo <id>', 'only events of this WO')
    .option('-n, --lines <n>', 'how many of the last events', '50')
    .option('--json', 'print raw JSON lines')
    .action(async (opts: { root?: string; follow?: boolean; wo?: string; lines: string; json?: boolean }) => {
      const n = Number(opts.lines);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--lines ${opts.lines}: give a whole number`);
      const file = layout(rootOf(opts)).telemetry;
      const keep = (e: TelemetryEvent) => !opts.wo || e.wo_id === opts.wo || (e as { from?: string }).from === opts.wo;
      const evs = readTelemetry(file).filter(keep);
      for (const e of evs.slice(-n)) process.stdout.write(render(e, !!opts.json) + '\n');
      if (!opts.follow) return;
      let pos = fs.existsSync(file) ? fs.statSync(file).size : 0;
      let partial = '';
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        let size: number;
        try {
          size = fs.statSync(file).size;
        } catch {
          continue;
        }
        if (size < pos) pos = 0; // rotated
        if (size === pos) continue;
        const fd = fs.openSync(file, 'r');
        const buf = Buffer.alloc(size - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        fs.closeSync(fd);
        pos = size;
        const text = partial + buf.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) {
          try {
            const e = JSON.parse(l) as TelemetryEvent;
            if (keep(e)) process.stdout.write(render(e, !!opts.json) + '\n');
          } catch {
            /* torn */
          }
        }
      }
    });
}
