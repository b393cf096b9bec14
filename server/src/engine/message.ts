/**
 * Words a finding from the profile's verdict. The message is one sentence (what was asked,
 * what this runtime does with it): editors show it inline and in the problems list, and send
 * it on every keystroke. Why, and what to do instead, are the verdict's explanation, shown
 * in the hover, the docs page and the launch gate.
 */
import type { Verdict } from '../profiles/index.js';

const STATUS_PHRASE: Record<Verdict['status'], string> = {
  unsupported: 'is not supported by',
  pending: 'is not implemented yet by',
  differs: 'works differently under',
  // A verdict that is `ok` yet reported is a hint that the setting is moot.
  ok: 'has no effect under',
  unknown: 'is not documented by',
};

export function findingMessage(subject: string, verdict: Pick<Verdict, 'status'>, profileId: string): string {
  return `${subject.charAt(0).toUpperCase()}${subject.slice(1)} ${STATUS_PHRASE[verdict.status]} ${profileId}.`;
}

/** The reason, then the workaround, as sentences. */
export function verdictExplanation(verdict: Pick<Verdict, 'reason' | 'workaround'>): string {
  const sentence = (text: string) => `${text.trim().replace(/\.$/, '')}.`;
  const reason = sentence(verdict.reason.charAt(0).toUpperCase() + verdict.reason.slice(1));
  return verdict.workaround ? `${reason} Workaround: ${sentence(verdict.workaround)}` : reason;
}
