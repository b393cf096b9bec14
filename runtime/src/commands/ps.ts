import { flagString, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { execShims, muxSocketOf } from '../container.js';
import { RuntimeError } from '../errors.js';
import { muxRequest } from '../mux.js';
import { isAlive } from '../proc.js';
import { loadState, statusOf, type ContainerState } from '../state.js';
import { table } from './list.js';

interface GuestProcess {
  /** The pid in the guest kernel's root namespace. */
  pid: number;
  /** The pid in the container's own pid namespace (what `ps` inside the container shows). */
  nspid: number;
  ppid: number;
  uid: number;
  state: string;
  cmd: string[];
}

/**
 * The host processes that stand in for the container: the init shim (the pid Docker waits on),
 * QEMU (the VM itself) and the exec shims.
 */
function hostPids(state: ContainerState): number[] {
  return [state.shim, state.qemu, ...execShims(state.runDir)].filter(isAlive).map((ref) => ref!.pid);
}

async function guestProcesses(state: ContainerState, id: string): Promise<GuestProcess[]> {
  const status = statusOf(state);
  if (status !== 'running' && status !== 'created')
    throw new RuntimeError(`container "${id}" is ${status}: its VM has no processes to list`);
  const answer = await muxRequest(muxSocketOf(state), { op: 'ps', id });
  return (answer.processes as GuestProcess[]).sort((a, b) => a.pid - b.pid);
}

/**
 * Two audiences. containerd (and so `docker top`) asks for `--format json` and runs the host's
 * `ps` on the pids it gets (moby daemon/top_unix.go): those are the VM's host processes. People
 * get the table of the container's processes in the VM: each pid as the container sees it and
 * as the guest kernel does.
 */
export const ps: Command = {
  name: 'ps',
  usage: 'ps [--format table|json] <container-id>',
  summary: "list the container's processes in the VM (table), or the host pids that stand in for them (json)",
  flags: { format: { kind: 'string', aliases: ['f'], help: "table (default): the guest's processes; json: host pids, for containerd" } },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'ps', ['container-id'], true);
    const format = flagString(args, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new RuntimeError(`ps: unknown --format "${format}" (table or json)`);
    const state = loadState(ctx.root, id!);
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify(hostPids(state))}\n`);
      return 0;
    }
    const rows = (await guestProcesses(state, id!)).map((p) => [String(p.uid), String(p.nspid), String(p.pid), p.state, p.cmd.join(' ')]);
    process.stdout.write(table([['UID', 'PID', 'GUEST PID', 'STAT', 'CMD'], ...rows]));
    return 0;
  },
};
