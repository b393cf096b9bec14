/**
 * A private containerd 1.6 driven through its CRI API, as the kubelet drives it: Debian's
 * containerd (it has the CRI plugin) with root, state, socket and vmrt state root in a temporary
 * folder of its own; the `vmrt` runtime registered as `vmrt install --containerd` prints it;
 * pod networks from Debian's CNI plugins on a bridge and subnet of its own; a busybox image,
 * imported with `ctr` (no registry), as the sandbox image and the containers' image. The CRI
 * client speaks gRPC with the CRI v1 definitions in test/support/cri/api.proto.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { containerdRuntimeTable } from '../../runtime/src/commands/install.js';
import { deleteVmrtContainers, privateBridge, removeFolderAndMounts } from './dockerd.js';
import { hostProgram } from './host-program.js';
import { busyboxImageArchive, REPO } from './images.js';
import { sleep } from './wait.js';

/** The CRI image every pod and container of these tests runs: busybox, its sandbox a sleeper. */
export const CRI_IMAGE = 'docker.io/library/vmrt-cri-busybox:latest';
/** Where the CRI plugin finds the CNI plugins it runs (Debian's containernetworking-plugins). */
const CNI_BIN_DIR = '/usr/lib/cni';

/** A CRI call: the request object in, the response out (proto field names in camelCase). */
export type CriCall = (method: string, request: Record<string, unknown>, timeoutMs?: number) => Promise<Record<string, any>>;

export interface Containerd {
  /** Its gRPC socket (the runc shims' command lines name it). */
  socket: string;
  /** The folder the pods' logs go to (each pod's log_directory is under it). */
  logRoot: string;
  /** The root vmrt is called with: the runc shim's Root option and the namespace. */
  runtimeRoot: string;
  /** RuntimeService calls. */
  runtime: CriCall;
  /** The log's last lines, for failure messages. */
  logTail(): string;
  stop(): Promise<void>;
}

const PROTO = join(REPO, 'test', 'support', 'cri', 'api.proto');

/** A CRI RuntimeService client on containerd's socket; each call fails with the method and containerd's message. */
function criClient(socket: string): { call: CriCall; close(): void } {
  const definition = protoLoader.loadSync(PROTO, { longs: Number, enums: String, defaults: true });
  const api = grpc.loadPackageDefinition(definition) as any;
  const client = new api.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  const call: CriCall = (method, request, timeoutMs = 180000) =>
    new Promise((resolve, reject) => {
      client[method](request, { deadline: new Date(Date.now() + timeoutMs) }, (err: grpc.ServiceError | null, res: any) =>
        err ? reject(new Error(`CRI ${method}: ${err.details || err.message}`, { cause: err })) : resolve(res),
      );
    });
  return { call, close: () => client.close() };
}

/**
 * Starts the containerd and waits for its CRI to answer, with the busybox image imported; on
 * failure, stops it again and throws with its log's tail. stop() removes the pods a test left.
 */
export async function startContainerd(): Promise<Containerd> {
  hostProgram('containerd', 'containerd');
  hostProgram('containerd-shim-runc-v2', 'containerd');
  hostProgram('ctr', 'containerd');
  if (!existsSync(join(CNI_BIN_DIR, 'bridge')))
    throw new Error(`${CNI_BIN_DIR}/bridge missing: apt-get install containernetworking-plugins`);
  // Short: containerd's sockets live under it.
  const dir = mkdtempSync('/tmp/vc-');
  const socket = join(dir, 'containerd.sock');
  const vmrtRoot = join(dir, 'vmrt');
  const logRoot = join(dir, 'pods');
  const cniConf = join(dir, 'cni');
  for (const sub of [logRoot, cniConf, join(dir, 'tmp')]) mkdirSync(sub, { recursive: true });
  const { bridge, subnet } = privateBridge('vc');
  writeFileSync(
    join(cniConf, '10-vmrt-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `vmrt-test-${bridge}`,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}.0/24` }]], dataDir: join(dir, 'cni-ipam') },
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      '[grpc]',
      `  address = "${socket}"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${CRI_IMAGE}"`,
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      `  bin_dir = "${CNI_BIN_DIR}"`,
      `  conf_dir = "${cniConf}"`,
      // Runtimes named in config.toml replace containerd's built-in list: the default runc again.
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '  runtime_type = "io.containerd.runc.v2"',
      // What `vmrt install --containerd` prints, with a state root of this daemon's own.
      ...containerdRuntimeTable({ Root: vmrtRoot }),
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'containerd.log');
  const logFd = openSync(logFile, 'a');
  const daemon = spawn('containerd', ['--config', join(dir, 'config.toml'), '--log-level', 'info'], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
    env: { ...process.env, TMPDIR: join(dir, 'tmp') },
  });
  let exited = false;
  daemon.on('exit', () => {
    exited = true;
  });
  const logTail = () => `\n--- containerd.log (tail) ---\n${readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')}`;
  const ctr = (args: string[]) => {
    const r = spawnSync('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const client = criClient(socket);
  const pods = new Set<string>();
  const runtime: CriCall = async (method, request, timeoutMs) => {
    const res = await client.call(method, request, timeoutMs);
    // Remembered, so that stop() removes a pod a failed test left.
    if (method === 'RunPodSandbox') pods.add(res.podSandboxId as string);
    if (method === 'RemovePodSandbox') pods.delete(request.podSandboxId as string);
    return res;
  };

  const stop = async () => {
    for (const id of pods) await client.call('RemovePodSandbox', { podSandboxId: id }).catch(() => undefined);
    client.close();
    if (!exited) {
      daemon.kill('SIGTERM');
      for (let i = 0; i < 300 && !exited; i++) await sleep(100);
      if (!exited) daemon.kill('SIGKILL');
    }
    deleteVmrtContainers(join(vmrtRoot, 'k8s.io'));
    removeFolderAndMounts(dir);
    spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  };

  try {
    const deadline = Date.now() + 60000;
    while (
      !(await client.call('Version', {}, 5000).then(
        () => true,
        () => false,
      ))
    ) {
      if (exited || Date.now() > deadline) throw new Error(`containerd did not start${logTail()}`);
      await sleep(250);
    }
    ctr(['images', 'import', busyboxImageArchive(dir, CRI_IMAGE, ['sleep', '2147483647'])]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, logRoot, runtimeRoot: join(vmrtRoot, 'k8s.io'), runtime, logTail, stop };
}
