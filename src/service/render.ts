/** Pure rendering of the service units from their templates: placeholders filled, every value escaped for its format. */
import { UsageError } from '../errors.js';

export type ServiceKind = 'launchd' | 'systemd';

/** What a unit needs: absolute paths only. */
export interface UnitSpec {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of dist/cli/main.js. */
  mainJs: string;
  /** Absolute root folder. */
  root: string;
  /** PATH for the daemon, absolute entries joined by ':'. */
  path: string;
  /** launchd Label (com.wo.daemon.<hash>). */
  label: string;
  /** Seconds the manager waits after SIGTERM before SIGKILL. */
  stopTimeoutS: number;
}

/** Escape text for an XML element body or attribute. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Escape systemd specifiers (`%` ⇒ `%%`), which every directive used here expands. */
function noSpecifiers(s: string): string {
  return s.replace(/%/g, '%%');
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One ExecStart= argument: quoted (C escapes) unless plain; `%` and `$` doubled so neither is expanded. */
export function systemdArg(s: string): string {
  const t = noSpecifiers(s).replace(/\$/g, '$$$$');
  return SAFE_WORD.test(s) ? t : `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One Environment= assignment, quoted when it holds anything but plain characters. */
export function systemdEnv(name: string, value: string): string {
  const t = noSpecifiers(`${name}=${value}`);
  return SAFE_WORD.test(`${name}=${value}`) ? t : `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path directive value (WorkingDirectory=): taken verbatim to the end of the line, specifiers expanded. */
export function systemdPath(s: string): string {
  return noSpecifiers(s);
}

/** Fill `{{NAME}}` placeholders; a placeholder without a value (or a value never used) is a bug, so it throws. */
export function fill(template: string, values: Record<string, string>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([A-Z_]+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    used.add(name);
    return v;
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`template does not use ${unused.map((u) => `{{${u}}}`).join(', ')}`);
  return out;
}

/** Refuse what no unit can carry safely: relative paths, control characters (newlines would inject directives). */
export function checkSpec(spec: UnitSpec): void {
  for (const [k, v] of Object.entries({ node: spec.node, mainJs: spec.mainJs, root: spec.root })) {
    if (!v.startsWith('/')) throw new UsageError(`service: ${k} must be an absolute path, got ${JSON.stringify(v)}`);
  }
  for (const [k, v] of Object.entries(spec)) {
    // eslint-disable-next-line no-control-regex
    if (typeof v === 'string' && /[\x00-\x1f\x7f]/.test(v)) throw new UsageError(`service: ${k} contains a control character: ${JSON.stringify(v)}`);
  }
  if (spec.path.split(':').some((p) => !p.startsWith('/'))) throw new UsageError(`service: every PATH entry must be absolute, got ${JSON.stringify(spec.path)}`);
  if (!Number.isInteger(spec.stopTimeoutS) || spec.stopTimeoutS < 1) throw new UsageError(`service: stop timeout must be a positive integer, got ${spec.stopTimeoutS}`);
}

/** The launchd property list for a spec. */
export function renderLaunchd(template: string, spec: UnitSpec): string {
  checkSpec(spec);
  return fill(template, {
    LABEL: xmlEscape(spec.label),
    NODE: xmlEscape(spec.node),
    MAIN_JS: xmlEscape(spec.mainJs),
    ROOT: xmlEscape(spec.root),
    PATH: xmlEscape(spec.path),
    LOG_DIR: xmlEscape(`${spec.root.replace(/\/+$/, '')}/g/logs`),
    STOP_TIMEOUT_S: String(spec.stopTimeoutS),
  });
}

/** The systemd user unit for a spec. */
export function renderSystemd(template: string, spec: UnitSpec): string {
  checkSpec(spec);
  return fill(template, {
    DESCRIPTION_ROOT: noSpecifiers(spec.root),
    EXEC_START: [spec.node, spec.mainJs, 'daemon', '--root', spec.root].map(systemdArg).join(' '),
    WORKDIR: systemdPath(spec.root),
    ENV_PATH: systemdEnv('PATH', spec.path),
    STOP_TIMEOUT_S: String(spec.stopTimeoutS),
  });
}

/** Render either kind. */
export function renderUnit(kind: ServiceKind, template: string, spec: UnitSpec): string {
  return kind === 'launchd' ? renderLaunchd(template, spec) : renderSystemd(template, spec);
}

/** Split an ExecStart= value as systemd does for the quoting `systemdArg` writes ("…" with \\ and \" escapes, %% and $$). */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const raw = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    words.push(raw.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

const xmlUnescape = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

/** Why: `wo doctor` checks that an installed unit's node and entry point still exist; read them back from its text. */
export function unitProgram(kind: ServiceKind, text: string): { node: string; mainJs: string } | undefined {
  let args: string[];
  if (kind === 'systemd') {
    const line = /^ExecStart=(.*)$/m.exec(text)?.[1];
    if (!line) return undefined;
    args = systemdWords(line);
  } else {
    const arr = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(text)?.[1];
    if (!arr) return undefined;
    args = [...arr.matchAll(/<string>([\s\S]*?)<\/string>/g)].map((m) => xmlUnescape(m[1]!));
  }
  return args.length >= 2 ? { node: args[0]!, mainJs: args[1]! } : undefined;
}
