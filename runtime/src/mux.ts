/**
 * A client of the init shim's mux socket: one REQUEST, its RESPONSE (PROTOCOL.md). The CLI's
 * start, kill, ps, state and delete go through here.
 */
import { connect } from 'node:net';
import { RuntimeError } from './errors.js';
import { FrameDecoder, FrameType, encodeJsonFrame, frameProblem } from './agent/frames.js';

export interface MuxResponse {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** No answer because the container's mux went away: its shim is ending (with its VM, or killed). */
export class MuxLost extends RuntimeError {}

/** Sends `request` and resolves with the `ok` response; an `ok:false` answer rejects with its error. */
export function muxRequest(socketPath: string, request: Record<string, unknown>, timeoutMs = 30000): Promise<MuxResponse> {
  return new Promise((resolve, reject) => {
    const stream = 1;
    const socket = connect(socketPath);
    const decoder = new FrameDecoder();
    let settled = false;
    const finish = (err: Error | undefined, response?: MuxResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(response!);
    };
    const timer = setTimeout(
      () => finish(new RuntimeError(`no answer to "${String(request.op)}" from the VM within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(encodeJsonFrame(FrameType.REQUEST, stream, request)));
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        finish(new RuntimeError(`bad frame from the VM: ${(err as Error).message}`));
        return;
      }
      for (const frame of frames) {
        if (frame.type !== FrameType.RESPONSE || frame.stream !== stream) continue;
        // The answer comes from the guest: anything but one JSON object is an error, never a crash.
        const problem = frameProblem(frame);
        if (problem) {
          finish(new RuntimeError(`bad answer to "${String(request.op)}" from the VM: ${problem}`));
          return;
        }
        const response = JSON.parse(frame.payload.toString('utf8')) as MuxResponse;
        if (response.ok === true) finish(undefined, response);
        else finish(new RuntimeError(typeof response.error === 'string' ? response.error : `"${String(request.op)}" failed in the VM`));
      }
    });
    socket.on('error', (err) => finish(new MuxLost(`cannot reach the VM of this container (${socketPath}): ${err.message}`)));
    socket.on('close', () => finish(new MuxLost(`the VM closed the connection before answering "${String(request.op)}"`)));
  });
}
