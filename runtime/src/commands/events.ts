import { connect } from 'node:net';
import { flagBool, flagString, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { eventJson, runcStats, type RuncEvent } from '../cgroup-stats.js';
import { muxSocketOf } from '../container.js';
import { RuntimeError, UsageError } from '../errors.js';
import { FrameDecoder, FrameType, encodeJsonFrame, frameProblem } from '../agent/frames.js';
import { muxRequest } from '../mux.js';
import { loadState, statusOf } from '../state.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** A Go duration ("5s", "1m30s", "250ms") in milliseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new UsageError(`invalid value "${text}" for flag -interval: a duration such as 5s or 250ms`);
  return parts.reduce((ms, [, amount, unit]) => ms + Number(amount) * UNIT_MS[unit!]!, 0);
}

function statsEvent(id: string, response: Record<string, unknown>): RuncEvent {
  return { type: 'stats', id, data: runcStats((response.cgroup ?? {}) as Record<string, string>) };
}

function print(event: RuncEvent): void {
  process.stdout.write(`${eventJson(event)}\n`);
}

/**
 * Stats of the guest cgroup every interval and OOM kills as they happen, until the container
 * stops (its init shim closes the mux). A stats request goes out only once the previous one
 * was answered: a paused VM answers nothing until it resumes.
 */
function stream(socketPath: string, id: string, intervalMs: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const decoder = new FrameDecoder();
    let nextStream = 1;
    let pending = false;
    const timer = setInterval(() => {
      if (pending) return;
      pending = true;
      socket.write(encodeJsonFrame(FrameType.REQUEST, nextStream++, { op: 'stats', id }));
    }, intervalMs);
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        process.stderr.write(`vmrt events: bad frame from the VM: ${(err as Error).message}\n`);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.type !== FrameType.RESPONSE && frame.type !== FrameType.EVENT) continue;
        const problem = frameProblem(frame);
        if (problem) {
          process.stderr.write(`vmrt events: a frame from the VM was dropped: ${problem}\n`);
          if (frame.type === FrameType.RESPONSE) pending = false;
          continue;
        }
        const payload = JSON.parse(frame.payload.toString('utf8')) as Record<string, unknown>;
        if (frame.type === FrameType.EVENT) {
          if (payload.type === 'oom' && payload.id === id) print({ type: 'oom', id });
        } else if (payload.ok) {
          pending = false;
          print(statsEvent(id, payload));
        } else {
          // As runc: a failed collection is reported and the stream goes on.
          pending = false;
          process.stderr.write(`vmrt events: stats: ${String(payload.error)}\n`);
        }
      }
    });
    socket.on('error', (err) => process.stderr.write(`vmrt events: ${err.message}\n`));
    socket.on('close', () => {
      clearInterval(timer);
      resolve(0);
    });
  });
}

export const events: Command = {
  name: 'events',
  usage: 'events [--stats] [--interval <duration>] <container-id>',
  summary: "print the container's stats (guest cgroup) every interval and its OOM kills, as JSON lines",
  flags: {
    stats: { kind: 'bool', help: 'print the stats once and exit' },
    interval: { kind: 'string', help: 'the stats interval (Go duration, default 5s)' },
  },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'events', ['container-id']);
    const intervalMs = parseDuration(flagString(args, 'interval') ?? '5s');
    if (intervalMs <= 0) throw new UsageError('duration interval must be greater than 0');
    const state = loadState(ctx.root, id!);
    const status = statusOf(state);
    if (status === 'stopped') throw new RuntimeError(`container with id ${id} is not running`);
    if (flagBool(args, 'stats')) {
      if (status === 'paused') throw new RuntimeError(`container "${id}" is paused: its VM cannot report stats until it resumes`);
      print(statsEvent(id!, await muxRequest(muxSocketOf(state), { op: 'stats', id })));
      return 0;
    }
    return stream(muxSocketOf(state), id!, intervalMs);
  },
};
