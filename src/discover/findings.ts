/** What `init` found about an app, each item with how sure it is and why (printed, and written as comments). */

export type Confidence = 'high' | 'medium' | 'low' | 'not found';

export interface Finding {
  /** What was looked for: "Login form", "Lost session", ... */
  readonly item: string;
  /** What was found, in a few words; null when nothing was. */
  readonly value: string | null;
  readonly confidence: Confidence;
  /** Why: what was seen. */
  readonly why: string;
  /** When not found (or unsure): the scenario line to edit. */
  readonly edit?: string | undefined;
}

/** A comment of the written scenario, before the key at `path`. */
export interface ScenarioComment {
  readonly path: readonly (string | number)[];
  readonly text: string;
}
