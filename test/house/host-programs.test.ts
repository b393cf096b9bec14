/**
 * Every host program that the tests, benchmarks, scripts and the runtime call is installed by
 * set-up: a fresh machine has only Debian's essential and required packages and Node 20 (README).
 * The programs are found in the code the way it calls them (spawn/execFile/execa of a bare name,
 * hostProgram(name, package), `command -v`, build.sh's `require`); each must come from a package
 * that scripts/setup.sh lists (or one that such a package depends on), from Debian's base, from
 * Node itself or from the project's own npm packages.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO } from '../support/images.js';

/** Node's own programs: the README's one prerequisite besides Debian. */
const NODE_PROGRAMS = new Set(['node', 'npm', 'npx']);

const SOURCES = /^(test|bench|scripts|runtime\/src|runtime\/guest|client\/src)\/.*\.(ts|mjs|sh)$|^runtime\/([^/]+\.sh|Makefile)$/;
const CALLS = [
  // a launcher with the program as its first argument, a string literal
  /\b(?:spawn|spawnSync|execFile|execFileSync|execa|execaSync|spawnDaemon|hostProgram)\(\s*['"`]([\w.+-]+)['"`]/g,
  // a command string: its first word
  /\bexec(?:Sync)?\(\s*['"`]([\w.+-]+)[\s'"`]/g,
  /\bcommand -v "?([\w.+-]+)/g,
  /^require ([\w.+-]+) /gm,
];

interface Use {
  program: string;
  where: string;
}

function programUses(): Use[] {
  const files = spawnSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' })
    .stdout.split('\n')
    .filter((file) => SOURCES.test(file) && !file.startsWith('test/fixtures/'));
  const uses: Use[] = [];
  for (const file of files) {
    const text = readFileSync(join(REPO, file), 'utf8');
    for (const pattern of CALLS) {
      for (const match of text.matchAll(pattern)) {
        const line = text.slice(0, match.index).split('\n').length;
        uses.push({ program: match[1]!, where: `${file}:${line}` });
      }
    }
  }
  return uses;
}

/** The Debian packages scripts/setup.sh installs (its APT_PACKAGES list). */
function setupPackages(): string[] {
  const script = readFileSync(join(REPO, 'scripts', 'setup.sh'), 'utf8');
  const list = /^APT_PACKAGES=\(\n([\s\S]*?)^\)/m.exec(script);
  assert.ok(list, 'scripts/setup.sh has no APT_PACKAGES=( … ) list');
  return list[1]!.split('\n').flatMap((line) => line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean));
}

interface Installed {
  depends: string[][];
  base: boolean;
}

/** Installed packages with their Depends/Pre-Depends (alternatives grouped) and whether a fresh Debian has them. */
function installedPackages(): { packages: Map<string, Installed>; providers: Map<string, string[]> } {
  const out = spawnSync(
    'dpkg-query',
    ['-W', '-f=${Package}\t${Status}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\t${Provides}\n'],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  assert.equal(out.status, 0, `dpkg-query: ${out.stderr}`);
  const packages = new Map<string, Installed>();
  const providers = new Map<string, string[]>();
  const names = (field: string) =>
    field.split(',').map((group) =>
      group
        .split('|')
        .map((dep) => dep.trim().split(/[\s:(]/)[0]!)
        .filter(Boolean),
    );
  for (const row of out.stdout.split('\n')) {
    const [name, status, essential, priority, depends, provides] = row.split('\t');
    if (!name || !status?.endsWith(' installed')) continue;
    packages.set(name, {
      depends: names(depends!).filter((group) => group.length > 0),
      base: essential === 'yes' || priority === 'required',
    });
    for (const [virtual] of names(provides!)) providers.set(virtual!, [...(providers.get(virtual!) ?? []), name]);
  }
  return { packages, providers };
}

/** What apt brings with the set-up list: the packages and, recursively, every installed alternative they depend on. */
function installedBySetup(roots: string[], packages: Map<string, Installed>, providers: Map<string, string[]>): Set<string> {
  const brought = new Set<string>();
  const visit = (name: string) => {
    for (const real of packages.has(name) ? [name] : (providers.get(name) ?? [])) {
      if (brought.has(real)) continue;
      brought.add(real);
      for (const group of packages.get(real)!.depends) group.forEach(visit);
    }
  };
  roots.forEach(visit);
  for (const [name, facts] of packages) if (facts.base) visit(name);
  return brought;
}

/** Every executable file named `program` in a folder of PATH (not a shell builtin of the same name), with its real path. */
function onPath(program: string): string[] {
  const found: string[] = [];
  for (const folder of (process.env.PATH ?? '').split(':').filter((dir) => dir.startsWith('/'))) {
    try {
      accessSync(join(folder, program), constants.X_OK);
      found.push(join(folder, program), realpathSync(join(folder, program)));
    } catch {
      // not in this folder
    }
  }
  return found;
}

/** The Debian packages owning `path` (usr-merged paths tried both ways). */
function owners(path: string): string[] {
  const packages = new Set<string>();
  for (const candidate of new Set([path, path.replace(/^\/usr\//, '/'), path.replace(/^\/(bin|sbin)\//, '/usr/$1/')])) {
    const out = spawnSync('dpkg-query', ['-S', candidate], { encoding: 'utf8' });
    for (const line of out.stdout.split('\n')) {
      const [owned, file] = line.split(': ');
      if (file === candidate) owned!.split(', ').forEach((name) => packages.add(name.split(':')[0]!));
    }
  }
  return [...packages];
}

test('set-up installs a package for every host program the tests, scripts and runtime call', () => {
  const uses = programUses();
  const programs = new Map<string, string[]>();
  for (const { program, where } of uses) programs.set(program, [...(programs.get(program) ?? []), where]);
  // The scan itself must see the calls it exists for, or it checks nothing.
  for (const expected of ['qemu-system-x86_64', 'dockerd', 'containerd', 'gdbserver', 'ip', 'musl-gcc', 'cpio']) {
    assert.ok(programs.has(expected), `the scan no longer finds ${expected}: its patterns miss how the code calls programs`);
  }
  const { packages, providers } = installedPackages();
  const listed = setupPackages();
  for (const name of listed) assert.ok(packages.has(name) || providers.has(name), `set-up lists ${name}, which is not installed here`);
  const brought = installedBySetup(listed, packages, providers);
  const problems: string[] = [];
  for (const [program, where] of programs) {
    if (NODE_PROGRAMS.has(program)) continue;
    const at = where.slice(0, 3).join(', ');
    const paths = onPath(program);
    // A copy that set-up's packages provide, or npm ci's: a fresh Debian machine finds it on PATH
    // (another copy earlier on this machine's PATH does not count).
    if (paths.some((path) => path.startsWith(join(REPO, 'node_modules') + '/'))) continue;
    const packagesOwning = [...new Set(paths.flatMap(owners))];
    if (paths.length === 0) {
      problems.push(`${program} (${at}) is not on PATH: add the Debian package that provides it to scripts/setup.sh`);
    } else if (packagesOwning.length === 0) {
      problems.push(`${program} (${at}) is ${paths.join(', ')}, which no Debian package owns: set-up must install it`);
    } else if (!packagesOwning.some((name) => brought.has(name))) {
      problems.push(`${program} (${at}) comes from ${packagesOwning.join(' or ')}, which scripts/setup.sh does not install`);
    }
  }
  assert.deepEqual(problems, []);
});

test('hostProgram names the package set-up installs for it', () => {
  const listed = new Set(setupPackages());
  const { packages, providers } = installedPackages();
  const brought = installedBySetup([...listed], packages, providers);
  const wrong: string[] = [];
  for (const file of ['test/support/dockerd.ts', 'test/e2e/host-images.ts']) {
    const text = readFileSync(join(REPO, file), 'utf8');
    for (const [, program, debianPackage] of text.matchAll(/hostProgram\('([\w.+-]+)', '([\w.+-]+)'\)/g)) {
      if (!NODE_PROGRAMS.has(program!) && !brought.has(debianPackage!))
        wrong.push(`${file}: hostProgram('${program}', '${debianPackage}'): set-up installs no ${debianPackage}`);
    }
  }
  assert.deepEqual(wrong, []);
});
