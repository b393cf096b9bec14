/** Words a finding from the profile's verdict: what was asked, what this runtime does, why, and what to do instead. */
import type { Verdict } from '../profiles/index.js';

const STATUS_PHRASE: Record<Verdict['status'], string> = {
  unsupported: 'is not supported by',
  pending: 'is not implemented yet by',
  differs: 'works differently under',
  ok: 'works under',
  unknown: 'is not documented by',
};

export function findingMessage(subject: string, verdict: Verdict, profileId: string): string {
  const sentence = (text: string) => text.trim().replace(/\.$/, '');
  const head = `${subject.charAt(0).toUpperCase()}${subject.slice(1)} ${STATUS_PHRASE[verdict.status]} ${profileId}: ${sentence(verdict.reason)}.`;
  return verdict.workaround ? `${head} Workaround: ${sentence(verdict.workaround)}.` : head;
}
