/**
 * The git edge: a bounded, constant number of git processes per question (rev-parse, one log,
 * one reflog, one cat-file batch), never one per commit.
 */
import { spawn } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { GitCommit, GitState, ReflogEntry } from './types.js';

export interface GitRepo {
  state: GitState;
  note?: string;
  git?: SimpleGit;
  root: string;
  /** The root's path inside the repository (`sub/dir/` or ''). */
  prefix: string;
}

const REFLOG_LIMIT = 300;
const LOG_LIMIT = 2000;

function iso(s: string): string {
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toISOString();
}

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';
}

/** Find the repository holding `root` (if any) and whether it has commits. */
export async function openRepo(root: string): Promise<GitRepo> {
  let git: SimpleGit;
  try {
    git = simpleGit({ baseDir: root, config: ['core.quotePath=false'], maxConcurrentProcesses: 4 });
  } catch (err) {
    return { state: 'error', note: `git unavailable: ${errText(err)}`, root, prefix: '' };
  }
  let prefix: string;
  try {
    const out = await git.raw(['rev-parse', '--show-prefix']);
    prefix = out.replace(/\n$/, '');
  } catch (err) {
    const msg = errText(err);
    if (/not a git repository/i.test(msg)) return { state: 'not-a-repo', note: 'not a git repository: no git history checked', root, prefix: '' };
    if (/ENOENT|not found/i.test(msg)) return { state: 'no-git', note: 'git is not installed: no git history checked', root, prefix: '' };
    return { state: 'error', note: `git failed: ${msg}`, root, prefix: '' };
  }
  // simple-git resolves a failing command that printed nothing, so check the answer, not only the exit.
  const head = await git.raw(['rev-parse', '--verify', '-q', 'HEAD^{commit}']).catch(() => '');
  if (!/^[0-9a-f]{40,64}\s*$/.test(head)) return { state: 'no-commits', note: 'the git repository has no commits yet', git, root, prefix };
  return { state: 'ok', git, root, prefix };
}

/** Parse `git log -z --name-status --format=%x1e%H%x1f%P%x1f%cI%x1f%an%x1f%s`. */
export function parseLog(out: string): { sha: string; parents: string[]; ts: string; author: string; subject: string; files: { status: string; path: string; from?: string }[] }[] {
  const commits = [];
  for (const chunk of out.split('\x1e')) {
    if (!chunk.trim()) continue;
    const nul = chunk.indexOf('\0');
    const header = nul >= 0 ? chunk.slice(0, nul) : chunk.replace(/\n+$/, '');
    const [sha = '', parents = '', ts = '', author = '', subject = ''] = header.split('\x1f');
    const tokens = nul >= 0 ? chunk.slice(nul + 1).replace(/^\n/, '').split('\0') : [];
    const files: { status: string; path: string; from?: string }[] = [];
    for (let i = 0; i < tokens.length; ) {
      const status = (tokens[i] ?? '').trim();
      if (!status) {
        i++;
        continue;
      }
      if (/^[RC]/.test(status)) {
        files.push({ status, from: tokens[i + 1] ?? '', path: tokens[i + 2] ?? '' });
        i += 3;
      } else {
        files.push({ status, path: tokens[i + 1] ?? '' });
        i += 2;
      }
    }
    commits.push({ sha, parents: parents ? parents.split(' ') : [], ts: iso(ts), author, subject, files });
  }
  return commits;
}

const LOG_FORMAT = '--format=%x1e%H%x1f%P%x1f%cI%x1f%an%x1f%s';

/**
 * Commits (any ref, any reflog) touching one path, newest first. One pathspec-limited walk (works for
 * files and folders); renames are followed by diffing only the commit that added the path (cheap),
 * then walking the old name — a second walk only when there was a rename.
 */
export async function pathLog(repo: GitRepo, rel: string): Promise<GitCommit[]> {
  if (!repo.git || repo.state !== 'ok') return [];
  const walk = async (p: string): Promise<GitCommit[]> => {
    const out = await repo.git!.raw(['log', '--all', '--reflog', '--full-history', '-z', '--name-status', `-n${LOG_LIMIT}`, LOG_FORMAT, '--', p]);
    const full = repo.prefix + p;
    return parseLog(out).flatMap((c) => {
      const f = c.files.find((x) => x.path === full) ?? c.files.find((x) => x.path.startsWith(full + '/'));
      if (!f) return [];
      return [{ sha: c.sha, parents: c.parents, ts: c.ts, author: c.author, subject: c.subject, status: f.status, path: f.path, ...(f.from ? { from: f.from } : {}) }];
    });
  };
  const commits = await walk(rel);
  for (let depth = 0; depth < 3; depth++) {
    const oldest = commits[commits.length - 1];
    if (!oldest || oldest.status !== 'A') break;
    const shown = await repo.git.raw(['show', '-M', '--name-status', '-z', '--format=', oldest.sha]).catch(() => '');
    const tokens = shown.replace(/^\n+/, '').split('\0');
    let from: string | undefined;
    for (let i = 0; i < tokens.length; i++) {
      if (/^R/.test(tokens[i] ?? '') && tokens[i + 2] === oldest.path) from = tokens[i + 1];
    }
    if (!from) break;
    commits[commits.length - 1] = { ...oldest, status: 'R', from };
    const older = await walk(from.startsWith(repo.prefix) ? from.slice(repo.prefix.length) : from);
    const seen = new Set(commits.map((c) => c.sha));
    commits.push(...older.filter((c) => !seen.has(c.sha) && c.ts <= oldest.ts && !(c.status.startsWith('D'))));
  }
  return commits;
}

/** Commits in a time window (optionally limited to paths), newest first, each with its changed files. */
export async function windowLog(repo: GitRepo, since: Date, until: Date, paths: string[]): Promise<ReturnType<typeof parseLog>> {
  if (!repo.git || repo.state !== 'ok') return [];
  const args = ['log', '--all', '--reflog', '-z', '--name-status', `-n${LOG_LIMIT}`, LOG_FORMAT, `--since=${since.toISOString()}`, `--until=${until.toISOString()}`];
  return parseLog(await repo.git.raw(paths.length ? [...args, '--', ...paths] : args));
}

/** HEAD's reflog, newest first, bounded. */
export async function reflog(repo: GitRepo, limit = REFLOG_LIMIT): Promise<Omit<ReflogEntry, 'hasPath'>[]> {
  if (!repo.git || repo.state !== 'ok') return [];
  let out: string;
  try {
    out = await repo.git.raw(['log', '-g', '--date=iso-strict', '--format=%H%x1f%gd%x1f%gs%x1e', `-n${limit}`, 'HEAD']);
  } catch {
    return [];
  }
  const entries: Omit<ReflogEntry, 'hasPath'>[] = [];
  for (const rec of out.split('\x1e')) {
    const line = rec.replace(/^\n/, '');
    if (!line) continue;
    const [sha = '', sel = '', message = ''] = line.split('\x1f');
    const ts = /@\{(.+)\}$/.exec(sel)?.[1] ?? '';
    entries.push({ selector: `HEAD@{${entries.length}}`, sha, ts: iso(ts), message });
  }
  return entries;
}

/**
 * Which of `revs` contain each path: one `git cat-file --batch-check` process for all questions.
 * (simple-git cannot feed stdin, so this one call spawns git directly.) Key: `${rev}:${path}`.
 */
export async function presence(repo: GitRepo, revs: string[], rels: string[]): Promise<Map<string, boolean>> {
  const result = new Map<string, boolean>();
  if (repo.state !== 'ok' || !revs.length || !rels.length) return result;
  const questions: string[] = [];
  for (const rev of new Set(revs)) for (const rel of rels) if (!/[\n\r]/.test(rel)) questions.push(`${rev}:${repo.prefix}${rel}`);
  if (!questions.length) return result;
  const out = await new Promise<string>((resolve) => {
    const child = spawn('git', ['cat-file', '--batch-check=%(objecttype)'], { cwd: repo.root, stdio: ['pipe', 'pipe', 'ignore'] });
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (buf += d));
    child.on('error', () => resolve(''));
    child.on('close', () => resolve(buf));
    child.stdin.on('error', () => {});
    child.stdin.end(questions.join('\n') + '\n');
  });
  const answers = out.split('\n');
  questions.forEach((q, i) => {
    const a = answers[i];
    if (a === undefined || a === '') return;
    const key = q.slice(0, q.indexOf(':')) + ':' + q.slice(q.indexOf(':') + 1 + repo.prefix.length);
    result.set(key, !/ missing$/.test(a) && a !== 'missing');
  });
  return result;
}
