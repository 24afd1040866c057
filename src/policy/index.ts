/** Policy (SPEC §6): command analysis, path safety, the per-WO verdict. */
export { analyzeCommand, programName, SAFE_BUILTINS, RUNS_OTHERS, type ShellPolicy, type CommandAnalysis } from './shell.js';
export { lexicalTarget, checkTarget, ensureParents, recheckParent, type PathPolicy, type Target, type TargetState } from './paths.js';
export { policyVerdict, effectiveLevel, approveReason, commandsOf, APPROVE_REASON, VALIDATE_PLACEHOLDER, type Autonomy, type Level, type Verdict, type VerdictContext } from './verdict.js';
export { brakesAt, resetBreaker, breakerCause, breakerReason, type OpenBreaker } from './brakes.js';
export { woTargets, type NamedTarget } from './targets.js';
