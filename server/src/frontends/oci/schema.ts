/**
 * The structure of an OCI runtime bundle's config.json, written from the facts of the
 * runtime-spec (config.md, config-linux.md), not copied from its schema files.
 *
 * Why a JSON Schema (draft-07, checked by ajv) rather than a hand-written walker: the
 * spec's facts (required fields, types, enums) read one to one as schema keywords, so
 * the schema can be reviewed against the spec line by line; ajv (already a dependency)
 * compiles it once to fast code and reports every error with its JSON pointer, which the
 * front end maps back to the exact node. Unknown properties are allowed: the spec says
 * runtimes MUST NOT fail on them (config.md, "Extensions").
 */
import { Ajv, type ErrorObject } from 'ajv';
import { RLIMIT_TYPES as LINUX_RLIMIT_TYPES } from '../../../../runtime/src/oci-detection.js';

/** A place in the JSON document, as jsonc-parser's findNodeAtLocation takes it. */
export type JsonPath = (string | number)[];

export interface StructureError {
  /** The node the error is about (for a missing property: the object that lacks it). */
  path: JsonPath;
  message: string;
}

type Schema = Record<string, unknown>;

const SPEC = 'OCI runtime-spec config.md';
const SPEC_LINUX = 'OCI runtime-spec config-linux.md';

const string: Schema = { type: 'string' };
const boolean: Schema = { type: 'boolean' };
const integer: Schema = { type: 'integer' };
const uint: Schema = { type: 'integer', minimum: 0 };
const uint32: Schema = { type: 'integer', minimum: 0, maximum: 4294967295 };
const uint16: Schema = { type: 'integer', minimum: 0, maximum: 65535 };
const strings: Schema = { type: 'array', items: string };
const stringMap: Schema = { type: 'object', additionalProperties: string };
const absolutePath: Schema = { type: 'string', pattern: '^/', description: 'an absolute path' };

const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
});
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const oneOf = (values: readonly string[]): Schema => ({ type: 'string', enum: [...values] });

const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
/** getrlimit(2) resources (Linux) plus Solaris' RLIMIT_VMEM. */
const RLIMIT_TYPES = [...LINUX_RLIMIT_TYPES, 'RLIMIT_VMEM'];
const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
];
const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
];
const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];
const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const SCHEDULER_POLICIES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE'];
const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
];
const IO_PRIORITY_CLASSES = ['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'];
const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

const capabilityNames: Schema = {
  type: 'array',
  items: { type: 'string', pattern: '^CAP_[A-Z0-9_]+$', description: 'a capability name of the form CAP_* (capabilities(7))' },
};
const idMapping = object({ containerID: uint32, hostID: uint32, size: uint32 }, ['containerID', 'hostID', 'size']);
const hook = object({ path: absolutePath, args: strings, env: strings, timeout: { type: 'integer', minimum: 1 } }, ['path']);
const deviceRate = object({ major: integer, minor: integer, rate: uint }, ['major', 'minor', 'rate']);

const linux = object({
  namespaces: arrayOf(object({ type: oneOf(NAMESPACE_TYPES), path: string }, ['type'])),
  uidMappings: arrayOf(idMapping),
  gidMappings: arrayOf(idMapping),
  timeOffsets: { type: 'object', additionalProperties: object({ secs: integer, nanosecs: uint32 }) },
  devices: arrayOf(
    object(
      {
        type: oneOf(['c', 'b', 'u', 'p']),
        path: absolutePath,
        major: integer,
        minor: integer,
        fileMode: uint32,
        uid: uint32,
        gid: uint32,
      },
      ['type', 'path'],
    ),
  ),
  cgroupsPath: string,
  resources: object({
    devices: arrayOf(object({ allow: boolean, type: oneOf(['a', 'c', 'b']), major: integer, minor: integer, access: string }, ['allow'])),
    memory: object({
      limit: integer,
      reservation: integer,
      swap: integer,
      kernel: integer,
      kernelTCP: integer,
      swappiness: uint,
      disableOOMKiller: boolean,
      useHierarchy: boolean,
      checkBeforeUpdate: boolean,
    }),
    cpu: object({
      shares: uint,
      quota: integer,
      burst: uint,
      period: uint,
      realtimeRuntime: integer,
      realtimePeriod: uint,
      cpus: string,
      mems: string,
      idle: integer,
    }),
    blockIO: object({
      weight: uint16,
      leafWeight: uint16,
      weightDevice: arrayOf(object({ major: integer, minor: integer, weight: uint16, leafWeight: uint16 }, ['major', 'minor'])),
      throttleReadBpsDevice: arrayOf(deviceRate),
      throttleWriteBpsDevice: arrayOf(deviceRate),
      throttleReadIOPSDevice: arrayOf(deviceRate),
      throttleWriteIOPSDevice: arrayOf(deviceRate),
    }),
    hugepageLimits: arrayOf(object({ pageSize: string, limit: uint }, ['pageSize', 'limit'])),
    network: object({ classID: uint32, priorities: arrayOf(object({ name: string, priority: uint32 }, ['name', 'priority'])) }),
    pids: object({ limit: integer }),
    rdma: { type: 'object', additionalProperties: object({ hcaHandles: uint32, hcaObjects: uint32 }) },
    unified: stringMap,
  }),
  sysctl: stringMap,
  seccomp: object(
    {
      defaultAction: oneOf(SECCOMP_ACTIONS),
      defaultErrnoRet: uint32,
      architectures: arrayOf(oneOf(SECCOMP_ARCHES)),
      flags: arrayOf(oneOf(SECCOMP_FLAGS)),
      listenerPath: absolutePath,
      listenerMetadata: string,
      syscalls: arrayOf(
        object(
          {
            names: { type: 'array', items: string, minItems: 1 },
            action: oneOf(SECCOMP_ACTIONS),
            errnoRet: uint32,
            args: arrayOf(object({ index: uint, value: uint, valueTwo: uint, op: oneOf(SECCOMP_OPERATORS) }, ['index', 'value', 'op'])),
          },
          ['names', 'action'],
        ),
      ),
    },
    ['defaultAction'],
  ),
  rootfsPropagation: oneOf(['private', 'shared', 'slave', 'unbindable']),
  maskedPaths: strings,
  readonlyPaths: strings,
  mountLabel: string,
  intelRdt: object({ closID: string, l3CacheSchema: string, memBwSchema: string, enableCMT: boolean, enableMBM: boolean }),
  personality: object({ domain: oneOf(['LINUX', 'LINUX32']), flags: strings }, ['domain']),
});

const process = object(
  {
    terminal: boolean,
    consoleSize: object({ height: uint, width: uint }, ['height', 'width']),
    // Absolute in the POSIX sense below; Windows configs write C:\\ paths.
    cwd: string,
    env: strings,
    args: strings,
    commandLine: string,
    rlimits: arrayOf(object({ type: oneOf(RLIMIT_TYPES), soft: uint, hard: uint }, ['type', 'soft', 'hard'])),
    apparmorProfile: string,
    capabilities: object({
      bounding: capabilityNames,
      effective: capabilityNames,
      inheritable: capabilityNames,
      permitted: capabilityNames,
      ambient: capabilityNames,
    }),
    noNewPrivileges: boolean,
    oomScoreAdj: integer,
    scheduler: object(
      {
        policy: oneOf(SCHEDULER_POLICIES),
        nice: integer,
        priority: integer,
        flags: arrayOf(oneOf(SCHEDULER_FLAGS)),
        runtime: uint,
        deadline: uint,
        period: uint,
      },
      ['policy'],
    ),
    selinuxLabel: string,
    ioPriority: object({ class: oneOf(IO_PRIORITY_CLASSES), priority: integer }, ['class']),
    execCPUAffinity: object({ initial: string, final: string }),
    user: object({ uid: uint32, gid: uint32, umask: uint32, additionalGids: arrayOf(uint32), username: string }),
  },
  ['cwd'],
);

/**
 * On every platform but Windows the spec requires a root filesystem, an argv, a
 * numeric user and an absolute (slash-rooted) working directory. (The types repeat the main schema's, as ajv's strict mode wants; the
 * duplicate type errors are merged.)
 */
const posixRequirements: Schema = {
  required: ['root'],
  properties: {
    process: {
      type: 'object',
      required: ['args'],
      properties: {
        cwd: absolutePath,
        args: { type: 'array', items: string, minItems: 1 },
        user: { type: 'object', required: ['uid', 'gid'] },
      },
    },
  },
};

export const OCI_CONFIG_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://vmrt.dev/schemas/oci-config.json',
  type: 'object',
  required: ['ociVersion'],
  properties: {
    ociVersion: {
      type: 'string',
      pattern: '^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$',
      description: 'a SemVer 2.0.0 version (e.g. 1.0.2)',
    },
    root: object({ path: string, readonly: boolean }, ['path']),
    mounts: arrayOf(
      object(
        {
          destination: string,
          source: string,
          type: string,
          options: strings,
          uidMappings: arrayOf(idMapping),
          gidMappings: arrayOf(idMapping),
        },
        ['destination'],
      ),
    ),
    process,
    hostname: string,
    domainname: string,
    hooks: { type: 'object', properties: Object.fromEntries(HOOK_NAMES.map((name) => [name, arrayOf(hook)])) },
    annotations: { type: 'object', propertyNames: { minLength: 1 }, additionalProperties: string },
    linux,
    windows: { type: 'object' },
  },
  if: { not: { required: ['windows'] } },
  then: posixRequirements,
};

// The conditional parts name properties their parent schema defines, which strictRequired would refuse.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false });
const validate = ajv.compile(OCI_CONFIG_SCHEMA);

/** Checks a parsed config.json against the spec's structure; [] when it conforms. */
export function checkOciStructure(config: unknown): StructureError[] {
  if (validate(config)) return [];
  return (
    (validate.errors ?? [])
      // `if` only says that its `then` failed; the failures of `then` are reported themselves.
      .filter((error) => error.keyword !== 'if')
      .map((error) => ({ path: pointerToPath(error.instancePath), message: describe(error) }))
      .filter((error, i, all) => all.findIndex((e) => e.message === error.message) === i)
  );
}

function pointerToPath(pointer: string): JsonPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => {
      const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
    });
}

/** `linux.namespaces[2].type`; the document itself is `config`. */
export function fieldName(path: JsonPath): string {
  if (path.length === 0) return 'config';
  return path.map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a fractional number';
  return `a ${typeof value}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function describe(error: ErrorObject): string {
  const path = pointerToPath(error.instancePath);
  const field = fieldName(path);
  const source = path[0] === 'linux' ? SPEC_LINUX : SPEC;
  const parentSchema = error.parentSchema as Schema | undefined;
  let what: string;
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return `${path.length ? `${field}.` : ''}${missing} is missing: the ${source} requires it`;
    }
    case 'type': {
      const expected = String((error.params as { type: string }).type);
      const items = parentSchema?.['items'] as Schema | undefined;
      const expectedWords =
        expected === 'array' && items?.['type'] === 'string' ? 'an array of strings' : (TYPE_WORDS[expected] ?? expected);
      what = `must be ${expectedWords}, not ${typeOf(error.data)}`;
      break;
    }
    case 'enum':
      what = `is ${JSON.stringify(error.data)}; it must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
      break;
    case 'pattern':
      what = `is ${JSON.stringify(error.data)}; it must be ${String(parentSchema?.['description'] ?? `a string matching ${(error.params as { pattern: string }).pattern}`)}`;
      break;
    case 'minimum':
      what = `is ${String(error.data)}; it must be at least ${String((error.params as { limit: number }).limit)}`;
      break;
    case 'maximum':
      what = `is ${String(error.data)}; it must be at most ${String((error.params as { limit: number }).limit)}`;
      break;
    case 'minItems':
      what = `must have at least ${String((error.params as { limit: number }).limit)} entry`;
      break;
    case 'minLength':
      what = 'must not be empty';
      break;
    default:
      what = error.message ?? 'is not valid';
  }
  return `${field} ${what} (${source})`;
}
