/**
 * The ordered registry of front ends and file kind detection: by name first (names
 * that say what a file is), then by content (each front end's own detect, in this
 * order), unless the caller forces a kind (--kind).
 */
import { basename } from 'node:path';
import type { FileKind, FrontEnd } from '../core/types.js';
import { commandFrontEnd } from './command/front-end.js';
import { composeFrontEnd } from './compose/project.js';
import { devcontainerFrontEnd } from './devcontainer.js';
import { dockerfileFrontEnd } from './dockerfile/front-end.js';
import { kubernetesFrontEnd } from './kubernetes.js';
import { ociFrontEnd } from './oci/config.js';

/**
 * Content detection order: JSON formats that name themselves (devcontainer.json by
 * name, config.json by ociVersion) first, then
 * YAML by its top-level shape (compose `services:` before Kubernetes `apiVersion`/`kind`),
 * then names, and free text (shell scripts by shebang) last.
 */
export const FRONT_ENDS: readonly FrontEnd[] = [
  devcontainerFrontEnd,
  ociFrontEnd,
  composeFrontEnd,
  kubernetesFrontEnd,
  dockerfileFrontEnd,
  commandFrontEnd,
];

export const FILE_KINDS: readonly FileKind[] = ['oci', 'compose', 'kubernetes', 'dockerfile', 'command', 'devcontainer'];

const NAME_PATTERNS: readonly [FileKind, RegExp][] = [
  ['dockerfile', /^(?:(?:Docker|Container)file(?:\..+)?|.+\.(?:dockerfile|Dockerfile|containerfile|Containerfile))$/],
  ['compose', /^(?:docker-compose.*|compose(?:\..+)?)\.ya?ml$/],
  ['devcontainer', /^\.?devcontainer\.json$/],
  ['command', /^(?:.+\.(?:sh|bash|mk|md|markdown)|Makefile|GNUmakefile|makefile)$/],
];
const WORKFLOW = /(?:^|[\\/])\.github[\\/]workflows[\\/][^\\/]+\.ya?ml$/;

/** The kind a file's name alone establishes, if any. */
export function kindByName(path: string): FileKind | undefined {
  if (WORKFLOW.test(path)) return 'command';
  const name = basename(path);
  return NAME_PATTERNS.find(([, pattern]) => pattern.test(name))?.[0];
}

/** The front end that reads this file: the forced kind, else by name, else by content; undefined when none does. */
export function selectFrontEnd(
  path: string,
  text: string,
  kind?: FileKind,
  frontEnds: readonly FrontEnd[] = FRONT_ENDS,
): FrontEnd | undefined {
  const wanted = kind ?? kindByName(path);
  const named = wanted && frontEnds.find((f) => f.kind === wanted);
  if (named || kind) return named || undefined;
  return frontEnds.find((f) => f.detect(path, text));
}
