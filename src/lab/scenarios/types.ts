// What a scenario is and what it returns. A scenario drives the lab with scripted clients,
// records the exchanges in the slides' notation and checks the outcome itself: it throws a
// ScenarioError (line-client.ts) with a clear reason when anything is not as the slides say.
import type { Lab } from '../index.js';

/** One numbered arrow of a DNS picture: who asked whom, and what came back. */
export interface DnsStep {
  step: number;
  from: string;
  to: string;
  text: string;
}

export interface ScenarioResult {
  name: string;
  ok: boolean;
  /** Why it failed (absent when ok). */
  reason?: string;
  /** The exchanges: "S: 220 hamburger.edu …", "C: HELO crepes.fr", section headers "== …". */
  transcript: string[];
  /** The DNS steps the scenario saw, numbered as the slides number them. */
  dns: DnsStep[];
  ms: number;
}

export interface ScenarioContext {
  lab: Lab;
  transcript: string[];
  dns: DnsStep[];
}

export interface Scenario {
  summary: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** What a resolver step got back: "referral to edu. (…)", "answer: gaia.cs.umass.edu. A …". */
export function outcomeText(t: { outcome: string; detail?: string }): string {
  if (!t.detail) return t.outcome;
  return t.detail.startsWith(t.outcome) ? t.detail : `${t.outcome}: ${t.detail}`;
}

/** "1. a → b: text" */
export function formatStep(s: DnsStep): string {
  return `${String(s.step).padStart(2)}. ${s.from} → ${s.to}: ${s.text}`;
}
