/**
 * The contract between `wo upgrade` (the pipeline) and its shadow run (the comparison of plans made by the active
 * release and by the candidate). The pipeline receives a ShadowRunner; src/upgrade/shadow.ts provides the real one.
 */

/** What the pipeline asks: replay the last `limit` archived WOs of `liveRoot` as dry runs with each release. */
export interface ShadowRequest {
  /** The live root (read only: nothing under it may change). */
  liveRoot: string;
  /** `bin/wo` of the active release and of the candidate. */
  oldBin: string;
  newBin: string;
  /** How many of the most recent archived WOs to replay (default 50). */
  limit: number;
  /** A scratch folder the runner may use (removed by the pipeline afterwards). */
  workDir: string;
  /** Per-WO plan deadline. */
  timeoutMs: number;
}

/** One WO whose normalised plans differ between the releases. */
export interface ShadowDiff {
  wo_id: string;
  /** The archived file replayed, relative to the live root. */
  file: string;
  /** A unified diff of the normalised plans (old → new). */
  diff: string;
}

export interface ShadowResult {
  /** WOs planned by both releases. */
  compared: number;
  /** WOs not compared, and why (e.g. the old release has no `wo plan`, a plan timed out). */
  skipped: { file: string; why: string }[];
  diffs: ShadowDiff[];
}

export type ShadowRunner = (req: ShadowRequest) => Promise<ShadowResult>;
