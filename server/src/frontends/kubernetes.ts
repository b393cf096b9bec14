/**
 * Kubernetes front end: pod specs (Pods and every workload with a pod template) whose
 * `runtimeClassName` names a VM runtime class, one request per pod spec, with the host
 * namespaces, privileges, capabilities, sysctls, host paths, propagation, memory-backed
 * volumes, subPaths and GPUs its containers ask for.
 */
import type { Document, YAMLMap } from 'yaml';
import type {
  ContainerRequest,
  FrontEnd,
  FrontEndContext,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionName,
  OptionValues,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../core/types.js';
import { YamlFile, globMatch, scalarText, type Located, type LocatedPair } from './yaml/source.js';
import { isUnder } from '../../../runtime/src/oci-detection.js';

/** Where each kind keeps its pod spec. */
const POD_SPEC_PATHS: Record<string, readonly string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const KIND_LINE = new RegExp(`^kind\\s*:\\s*["']?(?:${Object.keys(POD_SPEC_PATHS).join('|')})["']?\\s*(?:#.*)?$`, 'm');
/** `kubectl get -o yaml` output: a `kind: List` whose items are the objects (their `kind:` indented). */
const LIST_KIND_LINE = /^kind\s*:\s*["']?List["']?\s*(?:#.*)?$/m;
const ITEM_KIND_LINE = new RegExp(`^\\s*(?:-\\s+)?kind\\s*:\\s*["']?(?:${Object.keys(POD_SPEC_PATHS).join('|')})["']?\\s*(?:#.*)?$`, 'm');
/**
 * Helm and other Go-template sources are not YAML until rendered: a template action on a
 * line of its own or as an unquoted value. (Quoted templates, e.g. in ConfigMap data, are YAML.)
 */
const GO_TEMPLATE = /^\s*(?:-\s+)?\{\{|:\s+\{\{/m;
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'];

/** Kubernetes mount propagation in the runtime's terms (what the kubelet hands the runtime). */
const PROPAGATION: Record<string, string | undefined> = { HostToContainer: 'rslave', Bidirectional: 'rshared', None: undefined };

const GPU_RESOURCE = /^(?:nvidia\.com|amd\.com)\/gpu$|^gpu\.intel\.com\//;

export function looksLikeKubernetes(text: string): boolean {
  const objects = KIND_LINE.test(text) || (LIST_KIND_LINE.test(text) && ITEM_KIND_LINE.test(text));
  return /^apiVersion\s*:/m.test(text) && objects && !GO_TEMPLATE.test(text);
}

/** Reads one pod spec. */
class PodSpecReader {
  private readonly options: RequestedOption[] = [];

  constructor(
    private readonly yaml: YamlFile,
    private readonly doc: Document,
    private readonly spec: Located<YAMLMap>,
  ) {}

  private field(map: Located | undefined, key: string): LocatedPair | undefined {
    const m = this.yaml.asMap(map);
    return m ? this.yaml.get(m, key, this.doc) : undefined;
  }

  private value(map: Located | undefined, key: string): string | undefined {
    const pair = this.field(map, key);
    return pair?.value ? scalarText(pair.value.node) : undefined;
  }

  private isTrue(map: Located | undefined, key: string): LocatedPair | undefined {
    const pair = this.field(map, key);
    return pair?.value && scalarText(pair.value.node)?.toLowerCase() === 'true' ? pair : undefined;
  }

  private pairs(located: Located | undefined): LocatedPair[] {
    const map = this.yaml.asMap(located);
    return map ? this.yaml.pairs(map, this.doc) : [];
  }

  private list(located: Located | undefined): Located[] {
    const seq = this.yaml.asSeq(located);
    return seq ? this.yaml.items(seq, this.doc) : [];
  }

  private add<N extends OptionName>(
    option: N,
    value: OptionValues[N],
    at: LocatedPair | Located,
    editor: Partial<OptionEditor> = {},
  ): void {
    this.options.push({
      option,
      value,
      range: this.yaml.rangeOf(at),
      file: this.yaml.path,
      edit: { remove: () => this.yaml.remove(at.chain), replace: () => undefined, ...editor },
    });
  }

  read(): RequestedOption[] {
    const spec = this.spec;
    const hostNetwork = this.isTrue(spec, 'hostNetwork');
    if (hostNetwork) this.add('network', 'host', hostNetwork);
    const hostPID = this.isTrue(spec, 'hostPID');
    if (hostPID) this.add('pid', 'host', hostPID);
    const hostIPC = this.isTrue(spec, 'hostIPC');
    if (hostIPC) this.add('ipc', 'host', hostIPC);
    for (const sysctl of this.list(this.field(this.field(spec, 'securityContext')?.value, 'sysctls')?.value)) {
      const key = this.value(sysctl, 'name');
      if (key) this.add('sysctl', { key, value: this.value(sysctl, 'value') ?? '' }, sysctl);
    }
    const volumes = new Map<string, Located>();
    for (const volume of this.list(this.field(spec, 'volumes')?.value)) {
      const name = this.value(volume, 'name');
      if (name) volumes.set(name, volume);
    }
    const containers = CONTAINER_LISTS.flatMap((key) => this.list(this.field(spec, key)?.value));
    for (const container of containers) this.readContainer(container, volumes);
    return this.options;
  }

  private readContainer(container: Located, volumes: Map<string, Located>): void {
    const securityContext = this.field(container, 'securityContext')?.value;
    const privileged = this.isTrue(securityContext, 'privileged');
    if (privileged) this.add('privileged', true, privileged);
    const capabilities = this.field(securityContext, 'capabilities')?.value;
    for (const [key, option] of [
      ['add', 'cap-add'],
      ['drop', 'cap-drop'],
    ] as const) {
      for (const cap of this.list(this.field(capabilities, key)?.value)) {
        const name = scalarText(cap.node);
        if (name) this.add(option, name, cap);
      }
    }
    for (const limit of this.pairs(this.field(this.field(container, 'resources')?.value, 'limits')?.value)) {
      const count = limit.value && scalarText(limit.value.node);
      if (GPU_RESOURCE.test(limit.key) && count) this.add('gpus', count, limit);
    }
    for (const mount of this.list(this.field(container, 'volumeMounts')?.value)) this.readMount(mount, volumes);
  }

  private readMount(mount: Located, volumes: Map<string, Located>): void {
    const target = this.value(mount, 'mountPath');
    const name = this.value(mount, 'name');
    const volume = name === undefined ? undefined : volumes.get(name);
    for (const key of ['subPath', 'subPathExpr']) {
      const subPath = this.field(mount, key);
      const text = subPath?.value && scalarText(subPath.value.node);
      if (subPath && text) this.add('subpath', text, subPath);
    }
    if (!target) return;
    const propagationPair = this.field(mount, 'mountPropagation');
    const written = propagationPair?.value && scalarText(propagationPair.value.node);
    const propagation = written ? PROPAGATION[written] : undefined;
    const readOnly = this.value(mount, 'readOnly') === 'true';
    const hostPath = this.field(volume, 'hostPath')?.value;
    const emptyDir = this.field(volume, 'emptyDir')?.value;
    // Removing a host volume's mount also removes the volume when nothing else mounts it.
    const removeWithVolume = () => [
      ...this.yaml.remove(mount.chain),
      ...(volume && this.mountCount(name!) === 1 ? this.yaml.remove(volume.chain) : []),
    ];
    // The one replacement a manifest can express: the same mount without propagation.
    const replace = (assignments: OptionAssignment[]): TextEdit[] | undefined => {
      const [only] = assignments;
      if (assignments.length !== 1 || only!.option !== 'mount' || !propagationPair) return undefined;
      const wanted = only!.value as OptionValues['mount'];
      return wanted.propagation === undefined && wanted.target === target ? this.yaml.remove(propagationPair.chain) : undefined;
    };
    if (hostPath) {
      const source = this.value(hostPath, 'path') ?? '';
      const type = this.value(hostPath, 'type');
      // Under /dev a hostPath is a volume from /dev whatever its type (the feature list's dev-volume).
      if ((type === 'CharDevice' || type === 'BlockDevice') && !isUnder(source, '/dev')) {
        this.add('device', { host: source, container: target }, mount, { remove: removeWithVolume });
        return;
      }
      const value: OptionValues['mount'] = { type: 'bind', source, target };
      if (readOnly) value.readOnly = true;
      if (propagation) value.propagation = propagation;
      this.add('mount', value, mount, { remove: removeWithVolume, replace });
    } else if (emptyDir && this.value(emptyDir, 'medium') === 'Memory') {
      const size = this.value(emptyDir, 'sizeLimit');
      this.add('tmpfs', size ? { target, size } : { target }, mount, { remove: removeWithVolume });
    } else if (propagation) {
      const value: OptionValues['mount'] = { type: 'volume', target, propagation };
      if (readOnly) value.readOnly = true;
      this.add('mount', value, mount, { replace });
    }
  }

  /** How many mounts in this pod spec use the volume (computed when a fix is asked for). */
  private mountCount(volumeName: string): number {
    let count = 0;
    for (const key of CONTAINER_LISTS) {
      for (const container of this.list(this.field(this.spec, key)?.value)) {
        for (const mount of this.list(this.field(container, 'volumeMounts')?.value)) {
          if (this.value(mount, 'name') === volumeName) count++;
        }
      }
    }
    return count;
  }
}

function podSpecOf(yaml: YamlFile, doc: Document, root: Located<YAMLMap>): Located<YAMLMap> | undefined {
  const kind = scalarText(yaml.get(root, 'kind', doc)?.value?.node);
  const path = kind === undefined ? undefined : POD_SPEC_PATHS[kind];
  let node: Located<YAMLMap> | undefined = path && root;
  for (const key of path ?? []) node = node && yaml.asMap(yaml.get(node, key, doc)?.value);
  return node;
}

export function parseKubernetes(file: SourceFile, ctx: FrontEndContext): FrontEndResult {
  const cache = ctx.yamlBlocks;
  const yaml = new YamlFile(file.path, file.text, cache && { cache, by: 'documents' });
  const requests: ContainerRequest[] = [];
  for (const doc of yaml.validDocs()) {
    const top = yaml.root(doc);
    if (top) for (const root of objectsOf(yaml, doc, top)) lintObject(yaml, doc, root, ctx, requests);
  }
  return { requests, problems: yaml.problems };
}

/** The objects of a document: the document itself, or the items of a `kind: List`. */
function objectsOf(yaml: YamlFile, doc: Document, top: Located<YAMLMap>): Located<YAMLMap>[] {
  if (scalarText(yaml.get(top, 'kind', doc)?.value?.node) !== 'List') return [top];
  const items = yaml.asSeq(yaml.get(top, 'items', doc)?.value);
  return items
    ? yaml
        .items(items, doc)
        .map((item) => yaml.asMap(item))
        .filter((item) => item !== undefined)
    : [];
}

/** One request for an object whose pod spec names a VM runtime class. */
function lintObject(yaml: YamlFile, doc: Document, root: Located<YAMLMap>, ctx: FrontEndContext, requests: ContainerRequest[]): void {
  const spec = podSpecOf(yaml, doc, root);
  if (!spec) return;
  const runtimeClass = scalarText(yaml.get(spec, 'runtimeClassName', doc)?.value?.node);
  if (!runtimeClass || !ctx.runtimeClasses.some((pattern) => globMatch(pattern, runtimeClass))) return;
  const metadata = yaml.asMap(yaml.get(root, 'metadata', doc)?.value);
  const name = metadata && scalarText(yaml.get(metadata, 'name', doc)?.value?.node);
  const request: ContainerRequest = { kind: 'kubernetes', file: yaml.path, options: new PodSpecReader(yaml, doc, spec).read() };
  if (name) request.name = name;
  requests.push(request);
}

export const kubernetesFrontEnd: FrontEnd = {
  kind: 'kubernetes',
  detect: (path: string, text: string) => /\.ya?ml$/i.test(path) && looksLikeKubernetes(text),
  parse: parseKubernetes,
};
