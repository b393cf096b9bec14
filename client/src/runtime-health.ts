/**
 * Is this machine ready to run VM containers from the editor? Three questions, asked in order
 * because each answer needs the previous one: does Docker answer, is vmrt registered with it
 * (`docker info` runtimes), and does `vmrt check` pass (QEMU, guest kernel and image, a probe
 * boot). Pure logic: the notification lives in containers/context.ts.
 */

export interface CheckLine {
  ok: boolean;
  /** `FAIL` lines are required; `no` lines are informational (e.g. no KVM: TCG works). */
  required: boolean;
  name: string;
  detail: string;
}

export interface CheckReport {
  lines: CheckLine[];
  capable: boolean;
}

/** Parses `vmrt check` output: `ok  name: detail`, `no  name: detail`, `FAIL name: detail`, then a verdict line. */
export function parseCheckOutput(text: string): CheckReport {
  const lines: CheckLine[] = [];
  for (const line of text.split('\n')) {
    const match = /^(ok {2}|no {2}|FAIL) (.+?): (.*)$/.exec(line);
    if (!match) continue;
    const [, status, name, detail] = match;
    lines.push({ ok: status === 'ok  ', required: status === 'FAIL', name: name!, detail: detail! });
  }
  return { lines, capable: /^System is capable of running vmrt containers/m.test(text) };
}

export type HealthProblem =
  { kind: 'docker-down'; message: string } | { kind: 'not-registered'; message: string } | { kind: 'runtime-check'; message: string };

/** The one sentence a person needs when the runtime check fails: the first required failure and its fix. */
export function checkProblem(report: CheckReport): HealthProblem | undefined {
  if (report.capable) return undefined;
  const failure = report.lines.find((line) => line.required && !line.ok);
  const what = failure ? `${failure.name}: ${failure.detail}` : 'the runtime check failed (see "vmrt: Show Runtime Check")';
  return { kind: 'runtime-check', message: `vmrt cannot start VMs on this machine: ${what}` };
}

/** Runtimes of `docker info` (the Engine API's `Runtimes` map) that run vmrt. */
export function registeredRuntime(runtimes: Record<string, { path?: string }> | undefined, name = 'vmrt'): boolean {
  return Boolean(runtimes && Object.prototype.hasOwnProperty.call(runtimes, name));
}

export function dockerDownProblem(host: string, error: unknown): HealthProblem {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    kind: 'docker-down',
    message: `Docker is not running or not reachable at ${host} (${reason}). Start Docker, or set vmrt.docker.host.`,
  };
}

export const NOT_REGISTERED: HealthProblem = {
  kind: 'not-registered',
  message:
    'Docker answers, but the vmrt runtime is not registered with it (docker info lists no "vmrt" runtime). Run "vmrt: Set Up Runtime".',
};
