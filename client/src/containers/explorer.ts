/**
 * The "VM Containers" view: Docker containers whose HostConfig.Runtime is vmrt, with their
 * state, image, uptime, guest kernel, vCPUs and memory, and live CPU/memory from Docker's
 * stats stream. Refreshed by Docker's event stream (never by polling).
 */
import * as vscode from 'vscode';
import { findVms, type VmFacts } from './process.js';
import { RUNTIME, type VmContext } from './context.js';
import { formatBytes, formatUptime, cpuPercent, type StatsSample } from './format.js';
import { execText } from './exec.js';

/** The container events that change what the view shows (not exec_*: the view's and the debugger's own probes). */
const LIFECYCLE_EVENTS = ['create', 'start', 'restart', 'die', 'destroy', 'pause', 'unpause', 'rename', 'stop', 'kill'];

export interface VmContainer {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string;
  /** Seconds since the container started (running containers only). */
  startedAt?: Date;
  ports: { privatePort: number; publicPort: number; ip: string }[];
  kernel?: string;
  vm?: VmFacts;
  cpu?: number;
  memoryBytes?: number;
}

class VmContainerItem extends vscode.TreeItem {
  constructor(readonly container: VmContainer) {
    // Running VMs open on their details (kernel, vCPUs, live use): there are few at a time.
    super(
      container.name,
      container.state === 'running' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
    );
    this.id = container.id;
    this.description = `${container.state} · ${container.image}`;
    this.contextValue = `vmContainer.${container.state === 'running' ? 'running' : 'stopped'}${container.ports.length > 0 ? '.ports' : ''}`;
    this.iconPath = new vscode.ThemeIcon(container.state === 'running' ? 'vm-running' : 'vm-outline');
    this.tooltip = `${container.id.slice(0, 12)} ${container.status}`;
  }
}

class DetailItem extends vscode.TreeItem {
  constructor(
    label: string,
    value: string,
    readonly container: VmContainer,
  ) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = value;
    this.contextValue = 'vmContainerDetail';
  }
}

type Node = VmContainerItem | DetailItem;

/** The rows under a container: what the VM is and what it uses now. */
function detailRows(c: VmContainer, now = new Date()): [string, string][] {
  const rows: [string, string][] = [
    ['State', c.state],
    ['Image', c.image],
  ];
  if (c.startedAt && c.state === 'running') rows.push(['Uptime', formatUptime(now.getTime() - c.startedAt.getTime())]);
  rows.push(['Guest kernel', c.kernel ?? (c.state === 'running' ? 'reading…' : 'not running')]);
  if (c.vm) rows.push(['vCPUs', String(c.vm.vcpus)], ['VM memory', `${c.vm.memoryMiB} MiB`]);
  if (c.cpu !== undefined) rows.push(['CPU', `${c.cpu.toFixed(1)} %`]);
  if (c.memoryBytes !== undefined) rows.push(['Memory used', formatBytes(c.memoryBytes)]);
  for (const p of c.ports) rows.push([`Port ${p.privatePort}`, `${p.ip || '0.0.0.0'}:${p.publicPort}`]);
  return rows;
}

export class VmExplorer implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private containers: VmContainer[] = [];
  /** Guest kernel per container id: read once with `uname -r` in the VM. */
  private readonly kernels = new Map<string, Promise<string | undefined>>();
  /** The runtime of each container id seen. */
  private readonly runtimes = new Map<string, string>();
  private readonly stats = new Map<string, NodeJS.ReadableStream>();
  private events: NodeJS.ReadableStream | undefined;
  private loaded: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly vm: VmContext) {
    vm.onDidChangeHost(() => {
      this.closeStreams();
      this.refresh();
    });
  }

  /** The containers as the view shows them (loads them the first time). */
  async list(): Promise<VmContainer[]> {
    this.loaded ??= this.load();
    await this.loaded;
    return this.containers;
  }

  refresh(): void {
    this.loaded = undefined;
    this.changed.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node instanceof VmContainerItem)
      return detailRows(node.container).map(([label, value]) => new DetailItem(label, value, node.container));
    if (node) return [];
    try {
      return (await this.list()).map((c) => new VmContainerItem(c));
    } catch {
      // Docker is not reachable: the readiness check says why, with the fix.
      void this.vm.ensureReady();
      return [];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return node;
  }

  private async load(): Promise<void> {
    this.watchEvents();
    const all = await this.vm.docker.listContainers({ all: true });
    // listContainers does not return the runtime on every Engine version: inspect once per container (it never changes).
    await Promise.all(
      all
        .filter((c) => !this.runtimes.has(c.Id))
        .map(async (c) => {
          const listed = (c.HostConfig as { Runtime?: string } | undefined)?.Runtime;
          const runtime =
            listed ??
            (await this.vm.docker
              .getContainer(c.Id)
              .inspect()
              .then(
                (i) => i.HostConfig.Runtime,
                () => undefined,
              ));
          if (runtime) this.runtimes.set(c.Id, runtime);
        }),
    );
    const ids = new Set(all.filter((c) => this.runtimes.get(c.Id) === RUNTIME).map((c) => c.Id));
    const previous = new Map(this.containers.map((c) => [c.id, c]));
    const vms = findVms(all.filter((c) => ids.has(c.Id) && c.State === 'running').map((c) => c.Id));
    this.containers = await Promise.all(
      all
        .filter((c) => ids.has(c.Id))
        .map(async (c) => {
          const inspect = await this.vm.docker.getContainer(c.Id).inspect();
          const running = inspect.State.Running;
          const container: VmContainer = {
            id: c.Id,
            name: inspect.Name.replace(/^\//, ''),
            image: inspect.Config.Image,
            state: inspect.State.Status,
            status: c.Status,
            startedAt: running ? new Date(inspect.State.StartedAt) : undefined,
            ports: (c.Ports ?? [])
              .filter((p) => p.PublicPort)
              .map((p) => ({ privatePort: p.PrivatePort, publicPort: p.PublicPort, ip: p.IP })),
            vm: running ? vms.get(c.Id) : undefined,
            cpu: running ? previous.get(c.Id)?.cpu : undefined,
            memoryBytes: running ? previous.get(c.Id)?.memoryBytes : undefined,
          };
          if (running) container.kernel = await this.kernel(c.Id);
          return container;
        }),
    );
    this.followStats();
  }

  private kernel(id: string): Promise<string | undefined> {
    let known = this.kernels.get(id);
    if (!known) {
      known = execText(this.vm.docker.getContainer(id), ['uname', '-r']).then(
        (r) => (r.exitCode === 0 ? r.output.trim() : undefined),
        () => undefined,
      );
      this.kernels.set(id, known);
      // A failed read (VM still booting) is tried again on the next refresh.
      void known.then((k) => {
        if (!k) this.kernels.delete(id);
      });
    }
    return known;
  }

  /** Docker's event stream: a change of a container's state reloads the list (debounced). */
  private watchEvents(): void {
    if (this.events || this.disposed) return;
    void this.vm.docker.getEvents({ filters: { type: ['container'], event: LIFECYCLE_EVENTS } }).then(
      (stream) => {
        if (this.disposed) {
          (stream as unknown as { destroy(): void }).destroy();
          return;
        }
        this.events = stream;
        stream.on('data', () => {
          clearTimeout(this.refreshTimer);
          this.refreshTimer = setTimeout(() => this.refresh(), 150);
        });
        const reset = () => {
          if (this.events === stream) this.events = undefined;
        };
        stream.on('end', reset);
        stream.on('error', reset);
      },
      () => undefined,
    );
  }

  /** One stats stream per running container; each sample updates that container's row. */
  private followStats(): void {
    const running = new Set(this.containers.filter((c) => c.state === 'running').map((c) => c.id));
    for (const [id, stream] of this.stats) {
      if (!running.has(id)) {
        (stream as unknown as { destroy(): void }).destroy();
        this.stats.delete(id);
      }
    }
    for (const id of running) {
      if (this.stats.has(id)) continue;
      void this.vm.docker
        .getContainer(id)
        .stats({ stream: true })
        .then(
          (stream) => {
            if (this.disposed) {
              (stream as unknown as { destroy(): void }).destroy();
              return;
            }
            this.stats.set(id, stream);
            let buffered = '';
            stream.on('data', (chunk: Buffer) => {
              buffered += chunk.toString();
              let newline: number;
              while ((newline = buffered.indexOf('\n')) >= 0) {
                const line = buffered.slice(0, newline);
                buffered = buffered.slice(newline + 1);
                if (line.trim()) this.sample(id, JSON.parse(line) as StatsSample);
              }
            });
            stream.on('error', () => this.stats.delete(id));
            stream.on('end', () => this.stats.delete(id));
          },
          () => undefined,
        );
    }
  }

  private sample(id: string, stats: StatsSample): void {
    const container = this.containers.find((c) => c.id === id);
    if (!container) return;
    container.cpu = cpuPercent(stats);
    container.memoryBytes = stats.memory_stats?.usage;
    this.changed.fire(undefined);
  }

  private closeStreams(): void {
    for (const stream of [this.events, ...this.stats.values()]) (stream as unknown as { destroy?(): void } | undefined)?.destroy?.();
    this.events = undefined;
    this.stats.clear();
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.refreshTimer);
    this.closeStreams();
    this.changed.dispose();
  }
}
