/**
 * Compatibility with runc, files: the container's root filesystem, a bind mount and a named
 * volume (write and read back, owners and sizes as the host sees them, a Unix socket, a FIFO,
 * hard and symbolic links in each), `docker cp` both ways, `docker diff`, `docker export`,
 * `docker commit` and a run of the committed image. Each scenario runs under runc and vmrt on one
 * private dockerd and asserts that vmrt shows what runc shows.
 * Needs root, docker.io, debootstrap, QEMU, the guest and shim.
 */
import { describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compatFile, DEBIAN as D, type Compat, type Runtime } from '../support/compat.js';
import { importBusyboxImage, makeBusyboxRootfs } from '../support/images.js';

/** `docker export` streams the whole filesystem: a busybox image keeps that to seconds (the Debian one takes minutes). */
const BUSYBOX = 'vmrt-compat-busybox';
let c: Compat;
const endOfFile = compatFile((compat) => {
  c = compat;
  importBusyboxImage((args, input) => c.d.dockerOk(args, input), c.d.dir, BUSYBOX);
});

/**
 * Writes files of every kind in the folder $1 (as root, and as uid 1000 in a 1777 folder), then
 * uses the socket and the FIFO, and prints what it made.
 */
const WRITE = [
  'set -e',
  'mkdir -p "$1" && cd "$1"',
  "printf 'hello\\n' > file",
  'head -c 100000 /dev/zero > big',
  'mkdir shared && chmod 1777 shared',
  "setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'echo by-user > shared/user-file'",
  'ln -s file link && ln file hard',
  "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind('sock'); s.listen(1); c = socket.socket(socket.AF_UNIX); c.connect('sock'); a, _ = s.accept(); c.sendall(b'ping'); print('socket says', a.recv(4).decode())\"",
  'mkfifo fifo && (echo through the fifo > fifo &) && cat fifo',
  "stat -c '%n %F %s %u:%g %h %a' file big link hard sock fifo shared shared/user-file",
  'cat file link shared/user-file',
].join('\n');

/** Reads back what WRITE made, from another container. */
const READ = [
  'cd "$1"',
  "stat -c '%n %F %s %u:%g %h %a' file big link hard sock fifo shared shared/user-file",
  'cat file link shared/user-file; cmp big /dev/zero 2>&1 | cut -d: -f2-',
  'python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect(\'sock\')" 2>&1 | tail -n 1',
].join('\n');

/** What the host sees of the files WRITE made under `dir`: type, size of regular files, owner, links. */
function hostView(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path).sort()) {
      const full = join(path, entry);
      const s = lstatSync(full);
      const type = s.isFile()
        ? `file ${s.size}`
        : s.isDirectory()
          ? 'directory'
          : s.isSymbolicLink()
            ? 'symlink'
            : s.isSocket()
              ? 'socket'
              : s.isFIFO()
                ? 'fifo'
                : 'other';
      out.push(`${relative(dir, full)} ${type} ${s.uid}:${s.gid} ${s.nlink} ${(s.mode & 0o7777).toString(8)}`);
      if (s.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

const shell = (script: string, dir: string) => ['sh', '-c', script, 'sh', dir];

/** Runs WRITE in `dir` of a container with `mount` args, then READ in a second one, and looks at the host. */
async function writeAndReadBack(runtime: Runtime, mount: string[], dir: string, hostDir: () => Promise<string>) {
  const name = c.name('write', runtime);
  const written = await c.docker(['run', '--runtime', runtime, '--name', name, ...mount, D, ...shell(WRITE, dir)]);
  const host = hostView(await hostDir());
  await c.docker(['rm', '-f', name]);
  const read = await c.run(runtime, [...mount, D, ...shell(READ, dir)]);
  return { written, host, read: { status: read.status, stdout: read.stdout, stderr: read.stderr } };
}

describe('files', { concurrency: 3 }, () => {
  it("the container's root filesystem (the host sees its upper layer)", () =>
    c.same(async (runtime) => {
      const name = c.name('rootfs', runtime);
      const written = await c.docker(['run', '--runtime', runtime, '--name', name, D, ...shell(WRITE, '/srv/files')]);
      const upper = (await c.dockerOk(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', name])).trim();
      const host = hostView(join(upper, 'srv', 'files'));
      // Read back: a container of the committed image.
      const again = await c.docker(['commit', name, `${name}-image`]);
      const read = await c.run(runtime, ['--rm', `${name}-image`, ...shell(READ, '/srv/files')]);
      await c.docker(['rm', '-f', name]);
      await c.docker(['rmi', `${name}-image`]);
      return { written, host, commit: again.status, read: { status: read.status, stdout: read.stdout, stderr: read.stderr } };
    }));

  it('a bind mount, and a file the host wrote in it', () =>
    c.same(async (runtime) => {
      const dir = join(c.d.dir, `bind-${runtime}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'from-host'), 'written on the host\n');
      chownSync(join(dir, 'from-host'), 1234, 1234);
      const fromHost = await c.run(runtime, [
        '-v',
        `${dir}:/data`,
        D,
        'sh',
        '-c',
        'stat -c "%U %u:%g %s" /data/from-host; cat /data/from-host',
      ]);
      const result = await writeAndReadBack(runtime, ['-v', `${dir}:/data`], '/data/files', async () => join(dir, 'files'));
      return { fromHost: [fromHost.status, fromHost.stdout, fromHost.stderr], ...result };
    }));

  it('a named volume', () =>
    c.same(async (runtime) => {
      const volume = c.name('volume', runtime);
      await c.dockerOk(['volume', 'create', volume]);
      const mountpoint = (await c.dockerOk(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim();
      const result = await writeAndReadBack(runtime, ['-v', `${volume}:/data`], '/data/files', async () => join(mountpoint, 'files'));
      await c.docker(['volume', 'rm', volume]);
      return result;
    }));

  it('a Unix socket and a FIFO on --tmpfs and /dev/shm', () =>
    c.sameUnderBoth([
      '--tmpfs',
      '/scratch',
      D,
      'sh',
      '-c',
      [
        'for d in /scratch /dev/shm; do cd $d',
        "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind('sock'); s.listen(1); c = socket.socket(socket.AF_UNIX); c.connect('sock'); print('socket ok')\"",
        'mkfifo fifo && (echo fifo ok > fifo &) && cat fifo; done',
      ].join('\n'),
    ]));

  it('docker cp into and out of a running container', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'cp', [D, 'sleep', 'infinity'], async (name) => {
        const dir = join(c.d.dir, `cp-${runtime}`);
        mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
        writeFileSync(join(dir, 'in.txt'), 'from the host\n');
        writeFileSync(join(dir, 'tree', 'sub', 'leaf'), 'leaf\n');
        const steps = [
          await c.docker(['cp', join(dir, 'in.txt'), `${name}:/tmp/in.txt`]),
          await c.docker(['cp', join(dir, 'tree'), `${name}:/srv/`]),
          await c.docker(['exec', name, 'sh', '-c', 'stat -c "%n %s %u:%g" /tmp/in.txt /srv/tree/sub/leaf; cat /tmp/in.txt']),
          await c.docker(['exec', name, 'sh', '-c', 'mkdir -p /out/d && echo from the container > /out/d/f && chown 33:33 /out/d/f']),
          await c.docker(['cp', `${name}:/out/d`, join(dir, 'copied')]),
          await c.docker(['cp', `${name}:/etc/debian_version`, join(dir, 'debian_version')]),
        ].map((r) => [r.status, r.stdout, r.stderr]);
        const f = lstatSync(join(dir, 'copied', 'f'));
        return {
          steps,
          host: [readFileSync(join(dir, 'copied', 'f'), 'utf8'), f.size, readFileSync(join(dir, 'debian_version'), 'utf8')],
        };
      }),
    ));
});

/** Every path of the busybox image's root filesystem, as `docker export` lists them (no leading "./"). */
let imagePaths: Set<string> | undefined;
function imageListing(): Set<string> {
  if (imagePaths) return imagePaths;
  const root = makeBusyboxRootfs(join(c.d.dir, 'busybox-listing'));
  const paths = new Set<string>();
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      paths.add(relative(root, full));
      if (lstatSync(full).isDirectory()) walk(full);
    }
  };
  walk(root);
  imagePaths = paths;
  return paths;
}

/** The paths `docker export` of `name` lists. */
function exported(name: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const exp = spawn('docker', ['export', name], {
      env: { ...process.env, DOCKER_HOST: `unix://${c.d.socket}`, DOCKER_CONFIG: join(c.d.dir, 'cli') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const tar = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'inherit'] });
    exp.stdout.pipe(tar.stdin);
    let out = '';
    tar.stdout.on('data', (b: Buffer) => (out += b));
    tar.on('close', (code) =>
      code === 0
        ? resolve(
            out
              .split('\n')
              .filter(Boolean)
              .map((p) => p.replace(/^\.\//, '').replace(/\/$/, '')),
          )
        : reject(new Error(`docker export ${name} | tar -t exited ${code}`)),
    );
  });
}

const CHANGES = 'echo new > /root/new && rm /etc/issue && mkdir -p /srv/made/deep && touch /var/tmp/t && echo changed >> /etc/motd';
/** The same in the busybox image (which has no /etc/issue, /etc/motd or /srv). */
const BUSYBOX_CHANGES = 'echo new > /root/new && rm /etc/group && mkdir -p /var/made/deep && touch /tmp/t && echo changed >> /etc/passwd';

describe('docker diff, export and commit', { concurrency: 2 }, () => {
  it('docker diff lists what the container changed, and only that', () =>
    c.same(async (runtime) => {
      const name = c.name('diff', runtime);
      const r = await c.docker(['run', '--runtime', runtime, '--name', name, D, 'sh', '-c', CHANGES]);
      const diff = await c.docker(['diff', name]);
      await c.docker(['rm', '-f', name]);
      return { status: r.status, diff: diff.stdout.split('\n').filter(Boolean).sort(), stderr: diff.stderr };
    }));

  it("docker export has the image's files with the container's changes, and nothing else (busybox image)", () =>
    c.same(async (runtime) => {
      const name = c.name('export', runtime);
      const run = await c.docker(['run', '--runtime', runtime, '--name', name, BUSYBOX, 'sh', '-c', BUSYBOX_CHANGES]);
      const paths = new Set(await exported(name));
      await c.docker(['rm', '-f', name]);
      const image = imageListing();
      return {
        run: [run.status, run.stdout, run.stderr],
        added: [...paths].filter((p) => !image.has(p)).sort(),
        missing: [...image].filter((p) => !paths.has(p)).sort(),
      };
    }));

  it('docker commit, and a run of the committed image', () =>
    c.same(async (runtime) => {
      const name = c.name('commit', runtime);
      const r = await c.docker(['run', '--runtime', runtime, '--name', name, D, 'sh', '-c', CHANGES]);
      const image = `${name}-image`;
      const commit = await c.docker(['commit', '--change', 'CMD ["cat", "/root/new"]', name, image]);
      const run = await c.run(runtime, [image]);
      const look = await c.run(runtime, [image, 'sh', '-c', 'ls -A / /run /root /srv/made; cat /etc/motd | tail -n 1; ls /etc/issue']);
      const history = await c.docker(['history', '--format', '{{.CreatedBy}} {{.Size}}', image]);
      await c.docker(['rm', '-f', name]);
      await c.docker(['rmi', image]);
      return {
        changes: [r.status, r.stderr],
        commit: commit.status,
        run: [run.status, run.stdout, run.stderr],
        look: [look.status, look.stdout, look.stderr],
        history: history.stdout,
      };
    }));
});

endOfFile();
