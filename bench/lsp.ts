/**
 * `npm run bench:lsp`: keystroke-to-diagnostics latency and memory of vmrt-language-server
 * over stdio, on a 5,000-line compose file and a 3,000-line Dockerfile, typed into one
 * character at a time; the same Dockerfile keystrokes also go to rcjsuen's
 * dockerfile-language-server-nodejs (the Dockerfile server of Container Tools and Docker DX).
 * Target: p95 <= 10 ms for vmrt on both files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LspSession, SERVER_MAIN } from '../test/lsp/harness.js';
import { cpuMsOf, loadAverage, percentile } from './stats.js';

/** Enough that the p95 rests on 15 keystrokes, not 5 (the machine is shared and noisy). */
const KEYSTROKES = 300;
/** A fast typist: about 12 characters a second. */
const TYPING_INTERVAL_MS = 80;
const TARGET_P95_MS = 10;

interface Keystroke {
  line: number;
  character: number;
  text: string;
}
interface Result {
  server: string;
  file: string;
  lines: number;
  p50: number;
  p95: number;
  max: number;
  cpuMsPerKeystroke: number;
  rssMb: number;
  peakRssMb: number;
  findings: number;
}

/** 5,000 lines: services of 10 lines, a third of them with options a VM treats differently. */
export function composeFile(lines = 5000): string {
  const out = ['services:'];
  for (let i = 0; out.length < lines - 9; i++) {
    out.push(
      `  svc${i}:`,
      `    image: registry.local/app${i}:1.${i % 10}`,
      '    environment:',
      `      INDEX: "${i}"`,
      '      MODE: production',
    );
    if (i % 3 === 0)
      out.push('    network_mode: host', '    cpus: 1.5', '    shm_size: 256m', '    privileged: true', '    restart: always');
    else out.push('    ports:', `      - "${8000 + (i % 1000)}:80"`, '    restart: always', '    mem_limit: 512m', '    read_only: true');
  }
  while (out.length < lines) out.push('# end');
  return `${out.join('\n')}\n`;
}

/** 3,000 lines: stages of RUN, ENV, COPY, with RUN --network=host and --security=insecure here and there. */
export function dockerfile(lines = 3000): string {
  const out: string[] = [];
  for (let i = 0; out.length < lines - 5; i++) {
    out.push(`FROM alpine:3.${i % 20} AS stage${i}`, `ENV STAGE=${i} PATH=/opt/bin:$PATH`, `COPY files/${i} /opt/${i}`);
    out.push(
      i % 4 === 0 ? `RUN --network=host wget -q http://example.invalid/${i}` : `RUN echo building ${i} > /opt/${i}/stamp`,
      'WORKDIR /opt',
    );
  }
  while (out.length < lines) out.push('# end');
  return `${out.join('\n')}\n`;
}

/** Keystrokes that type a word at the end of lines spread through the file (values of keys, shell words). */
function keystrokes(text: string, marker: RegExp): Keystroke[] {
  const lines = text.split('\n');
  const targets = lines.map((line, index) => (marker.test(line) ? index : -1)).filter((index) => index >= 0);
  const strokes: Keystroke[] = [];
  const word = 'abcdefghij';
  for (let k = 0; strokes.length < KEYSTROKES; k++) {
    const line = targets[Math.floor((k * targets.length) / (KEYSTROKES / word.length)) % targets.length]!;
    let character = lines[line]!.length;
    for (const ch of word) {
      strokes.push({ line, character, text: ch });
      character++;
    }
    lines[line] += word;
  }
  return strokes;
}

function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

async function measure(
  dir: string,
  server: string,
  command: string[],
  path: string,
  text: string,
  languageId: string,
  marker: RegExp,
): Promise<Result> {
  const session = await LspSession.start({ server: command });
  try {
    const uri = session.uri(path);
    const opened = await session.open(path, text, languageId).catch(async () => session.diagnostics(uri));
    const findings = opened.diagnostics.length;
    const latencies: number[] = [];
    const cpuBefore = cpuMsOf(session.child.pid!);
    let version = 1;
    for (const stroke of keystrokes(text, marker)) {
      version++;
      const published = session.diagnostics(uri, (p) => p.version === undefined || p.version === version);
      const start = performance.now();
      await session.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version },
        contentChanges: [{ range: { start: stroke, end: stroke }, rangeLength: 0, text: stroke.text }],
      });
      await published;
      latencies.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, TYPING_INTERVAL_MS));
    }
    const cpuMsPerKeystroke = (cpuMsOf(session.child.pid!) - cpuBefore) / latencies.length;
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      server,
      file: path.slice(dir.length + 1),
      lines: text.split('\n').length - 1,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted.at(-1)!,
      cpuMsPerKeystroke,
      ...memoryOf(session.child.pid!),
      findings,
    };
  } finally {
    await session.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-bench-lsp-'));
  const rcjsuen = join(
    dirname(createRequire(import.meta.url).resolve('dockerfile-language-server-nodejs/package.json')),
    'lib',
    'server.js',
  );
  const compose = composeFile();
  const docker = dockerfile();
  // Other work on the machine stretches wall-clock latencies: the load is printed with them.
  const loadAtStart = loadAverage();
  try {
    const results = [
      // A small file shows the server's own floor (debounce + protocol), apart from the engine's cost per line.
      await measure(
        dir,
        'vmrt-language-server',
        [SERVER_MAIN, '--stdio'],
        join(dir, 'small', 'compose.yaml'),
        composeFile(100),
        'dockercompose',
        /^\s+(image|MODE):/,
      ),
      await measure(
        dir,
        'vmrt-language-server',
        [SERVER_MAIN, '--stdio'],
        join(dir, 'compose.yaml'),
        compose,
        'dockercompose',
        /^\s+(image|MODE):/,
      ),
      await measure(dir, 'vmrt-language-server', [SERVER_MAIN, '--stdio'], join(dir, 'Dockerfile'), docker, 'dockerfile', /^RUN /),
      await measure(dir, 'dockerfile-language-server-nodejs', [rcjsuen, '--stdio'], join(dir, 'Dockerfile'), docker, 'dockerfile', /^RUN /),
    ];
    console.log(`keystroke -> diagnostics, ${KEYSTROKES} keystrokes each, one every ${TYPING_INTERVAL_MS} ms`);
    console.log(
      ['server'.padEnd(34), 'file'.padEnd(18), 'lines', 'findings', 'p50 ms', 'p95 ms', 'max ms', 'CPU ms/key', 'RSS MB', 'peak MB'].join(
        '  ',
      ),
    );
    for (const r of results) {
      console.log(
        [
          r.server.padEnd(34),
          r.file.padEnd(18),
          String(r.lines).padStart(5),
          String(r.findings).padStart(8),
          r.p50.toFixed(1).padStart(6),
          r.p95.toFixed(1).padStart(6),
          r.max.toFixed(1).padStart(6),
          r.cpuMsPerKeystroke.toFixed(1).padStart(10),
          r.rssMb.toFixed(0).padStart(6),
          r.peakRssMb.toFixed(0).padStart(7),
        ].join('  '),
      );
    }
    console.log(
      `load average at the start: ${loadAtStart}, at the end: ${loadAverage()} (latencies are wall time; CPU ms/key is the server's own CPU time per keystroke)`,
    );
    const ours = results.filter((r) => r.server === 'vmrt-language-server');
    const missed = ours.filter((r) => r.p95 > TARGET_P95_MS);
    console.log(
      missed.length === 0
        ? `target met: p95 <= ${TARGET_P95_MS} ms on both files`
        : `target missed (p95 <= ${TARGET_P95_MS} ms): ${missed.map((r) => `${r.file} ${r.p95.toFixed(1)} ms`).join(', ')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
