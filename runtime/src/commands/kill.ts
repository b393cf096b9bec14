import { flagBool, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { loadStateOrRemains, muxSocketOf } from '../container.js';
import { RuntimeError } from '../errors.js';
import { muxRequest } from '../mux.js';
import { parseSignal } from '../signals.js';
import { statusOf } from '../state.js';

export const kill: Command = {
  name: 'kill',
  usage: 'kill [--all] <container-id> [signal]',
  summary: 'send a signal (default SIGTERM) to the container process, or to all with --all',
  flags: { all: { kind: 'bool', aliases: ['a'], help: 'signal every process of the container' } },
  async run(args, ctx) {
    const [id, signalText] = expectPositionals(args, 'kill', ['container-id'], true);
    if (args.positionals.length > 2) throw new RuntimeError('kill takes <container-id> [signal]');
    const signal = parseSignal(signalText ?? 'SIGTERM');
    // Its mux still answers when its state folder is gone: the container can be stopped.
    const state = loadStateOrRemains(ctx.root, id!);
    const status = statusOf(state);
    // containerd maps this exact wording to "not found" (checkKillError).
    if (status === 'stopped') throw new RuntimeError('container not running');
    await muxRequest(muxSocketOf(state), { op: 'signal', id, signal, all: flagBool(args, 'all') });
    return 0;
  },
};
