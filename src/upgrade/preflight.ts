/** Preflight (step 2): doctor, free disk, node version vs the candidate's engines, a clean git source. */
import fsp from 'node:fs/promises';
import semver from 'semver';
import { runCmd } from './proc.js';
import type { StepOutcome } from './report.js';

/**
 * Pure: does a node version satisfy an `engines` range? npm's own `semver` decides (caret on 0.x, hyphen ranges,
 * x-ranges, `||`), so the preflight agrees with what npm would accept.
 */
export function nodeSatisfies(range: string, version: string): boolean {
  const v = semver.coerce(version);
  if (!v || !semver.validRange(range)) return false;
  return semver.satisfies(v, range);
}

/** Free bytes for an unprivileged user on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

/** `git status --porcelain` of a source folder: undefined when it is not a git work tree. */
export async function gitDirty(dir: string): Promise<string[] | undefined> {
  const inside = await runCmd(['git', '-C', dir, 'rev-parse', '--is-inside-work-tree'], { timeoutMs: 30_000 });
  if (inside.code !== 0) return undefined;
  const st = await runCmd(['git', '-C', dir, 'status', '--porcelain', '--untracked-files=normal'], { timeoutMs: 60_000 });
  if (st.code !== 0) throw new Error(`git status failed in ${dir}: ${st.output.trim()}`);
  return st.output.split('\n').filter(Boolean);
}

export interface PreflightInput {
  root: string;
  /** argv that runs `wo doctor` of the running release (or this CLI). */
  doctorArgv: string[];
  minFreeBytes: number;
  /** The candidate's engines.node (undefined: no constraint). */
  engines?: string;
  nodeVersion: string;
  /** A git source to check clean (undefined: --ref, whose tree is exact, or a non-git folder). */
  source?: string;
  allowDirty: boolean;
}

/** Run every preflight check; the step fails on the first hard problem and lists every finding. */
export async function preflight(i: PreflightInput): Promise<StepOutcome> {
  const findings: string[] = [];
  const problems: string[] = [];
  const warnings: string[] = [];
  const doc = await runCmd([...i.doctorArgv, 'doctor', '--root', i.root], { timeoutMs: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  findings.push(`wo doctor (exit ${doc.code}):\n${doc.output.trim()}`);
  if (doc.code !== 0) problems.push('wo doctor reports failures');
  const free = await freeBytes(i.root);
  findings.push(`free disk: ${free} bytes (floor ${i.minFreeBytes})`);
  if (free < i.minFreeBytes) problems.push(`only ${Math.floor(free / 2 ** 20)} MiB free under ${i.root}, below upgrade.min_free_bytes (${Math.floor(i.minFreeBytes / 2 ** 20)} MiB)`);
  if (i.engines && !nodeSatisfies(i.engines, i.nodeVersion)) problems.push(`node ${i.nodeVersion} does not meet the candidate's engines.node "${i.engines}"`);
  findings.push(`node ${i.nodeVersion} vs engines "${i.engines ?? '(none)'}"`);
  if (i.source) {
    const dirty = await gitDirty(i.source);
    if (dirty === undefined) warnings.push(`${i.source} is not a git work tree: its cleanliness is not checked`);
    else if (dirty.length) {
      const what = `${i.source} has ${dirty.length} uncommitted change(s): ${dirty.slice(0, 5).join('; ')}`;
      if (i.allowDirty) warnings.push(`${what} (--allow-dirty)`);
      else problems.push(`${what}; commit them or pass --allow-dirty`);
    }
  }
  const output = [...findings, ...warnings.map((w) => `warning: ${w}`), ...problems.map((p) => `problem: ${p}`)].join('\n');
  if (problems.length) return { status: 'failed', summary: problems.join('; '), output };
  if (warnings.length) return { status: 'warning', summary: warnings.join('; '), output };
  return { status: 'ok', summary: `doctor ok, ${Math.floor(free / 2 ** 20)} MiB free, node ${i.nodeVersion} meets "${i.engines ?? '*'}"${i.source ? ', source clean' : ''}`, output };
}
