/** Runs a command in a container through the Engine API and collects its output. */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';

export async function execText(
  container: Docker.Container,
  cmd: string[],
  options: { user?: string; privileged?: boolean } = {},
): Promise<{ exitCode: number; output: string }> {
  const exec = await container.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    User: options.user,
    Privileged: options.privileged,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  let output = '';
  sink.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  container.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const { ExitCode } = await exec.inspect();
  return { exitCode: ExitCode ?? -1, output };
}
