/** The upgrade's record: g/reports/upgrade/<ts>/steps.json (rewritten durably after each step) and report.md. */
import path from 'node:path';
import { ensureDir, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';

export type StepStatus = 'ok' | 'skipped' | 'warning' | 'failed';

export interface StepRecord {
  name: string;
  status: StepStatus;
  started_at: string;
  duration_ms: number;
  /** One line: what happened. */
  summary: string;
  /** The end of the step's output (commands it ran), bounded. */
  output_tail?: string;
}

export interface StepOutcome {
  status: StepStatus;
  summary: string;
  output?: string;
}

export interface UpgradeSummary {
  started_at: string;
  finished_at?: string;
  candidate?: string;
  from_release?: string;
  dry_run: boolean;
  outcome?: 'promoted' | 'rolled_back' | 'failed' | 'dry_run' | 'refused';
  steps: StepRecord[];
}

const TAIL_BYTES = 4000;

/** Pure: the last `max` characters of an output, cut at a line start when one is near. */
export function tail(text: string, max = TAIL_BYTES): string {
  if (text.length <= max) return text;
  const cut = text.slice(-max);
  const nl = cut.indexOf('\n');
  return nl >= 0 && nl < 200 ? cut.slice(nl + 1) : cut;
}

/** Pure: report.md from the summary. */
export function renderReport(s: UpgradeSummary): string {
  const lines = [
    `# wo upgrade ${s.started_at}`,
    '',
    `- candidate: ${s.candidate ?? '(not staged)'}`,
    `- running before: ${s.from_release ?? '(no release: the checkout)'}`,
    `- mode: ${s.dry_run ? 'dry run (steps 1–5)' : 'full'}`,
    `- outcome: **${s.outcome ?? 'in progress'}**${s.finished_at ? ` (${s.finished_at})` : ''}`,
    '',
    '| # | step | status | duration | summary |',
    '|---|---|---|---|---|',
    ...s.steps.map((st, i) => `| ${i + 1} | ${st.name} | ${st.status} | ${(st.duration_ms / 1000).toFixed(1)} s | ${st.summary.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`),
  ];
  for (const st of s.steps.filter((x) => x.output_tail && x.status !== 'ok')) {
    lines.push('', `## ${st.name} (${st.status})`, '', '```', st.output_tail!.replace(/```/g, "'''"), '```');
  }
  return lines.join('\n') + '\n';
}

/** Why: every step is on disk before the next one starts, so a killed upgrader leaves an honest record. */
export class Recorder {
  readonly summary: UpgradeSummary;
  constructor(
    readonly dir: string,
    dryRun: boolean,
    private readonly onStep: (st: StepRecord) => void | Promise<void> = () => {},
  ) {
    this.summary = { started_at: new Date().toISOString(), dry_run: dryRun, steps: [] };
  }

  /** Create the report folder and write the empty record. */
  async open(): Promise<void> {
    await ensureDir(this.dir);
    await this.flush();
  }

  /** Run one step, record its outcome (an exception is a failed step), write steps.json; returns the record. */
  async step(name: string, fn: () => Promise<StepOutcome>): Promise<StepRecord> {
    const started = Date.now();
    let out: StepOutcome;
    try {
      out = await fn();
    } catch (err) {
      out = { status: 'failed', summary: err instanceof Error ? err.message : String(err), output: err instanceof Error ? (err.stack ?? '') : '' };
    }
    const rec: StepRecord = { name, status: out.status, started_at: new Date(started).toISOString(), duration_ms: Date.now() - started, summary: out.summary, ...(out.output ? { output_tail: tail(out.output) } : {}) };
    this.summary.steps.push(rec);
    await this.flush();
    await this.onStep(rec);
    return rec;
  }

  /** Record the end of the upgrade. */
  async finish(outcome: NonNullable<UpgradeSummary['outcome']>): Promise<void> {
    this.summary.outcome = outcome;
    this.summary.finished_at = new Date().toISOString();
    await this.flush();
  }

  async flush(): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, 'steps.json'), this.summary);
    await writeFileAtomic(path.join(this.dir, 'report.md'), renderReport(this.summary));
  }
}
