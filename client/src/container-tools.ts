/**
 * Microsoft's Container Tools extension (and the Docker extension before it) runs containers
 * through registered runtime clients (@microsoft/vscode-container-client). Where one of them is
 * installed, vmrt registers a Docker client whose containers run in VMs: its "run" adds
 * `--runtime vmrt`; everything else is Docker's.
 */
import { DockerClient, type RunContainerCommandOptions } from '@microsoft/vscode-container-client';
import * as vscode from 'vscode';

/** The extensions that take runtime clients, newest first. */
const CONTAINER_TOOLS_IDS = ['ms-azuretools.vscode-containers', 'ms-azuretools.vscode-docker'];
const VMRT_CLIENT_ID = 'org.vmrt.docker';

interface ContainerToolsApi {
  registerContainerRuntimeClient?(client: DockerClient): vscode.Disposable;
}

export class VmrtDockerClient extends DockerClient {
  override readonly id = VMRT_CLIENT_ID;

  constructor() {
    super('docker', 'Docker + vmrt', 'Docker, with each container in its own QEMU VM (the vmrt runtime)');
  }

  protected override getRunContainerCommandArgs(
    options: RunContainerCommandOptions,
  ): ReturnType<DockerClient['getRunContainerCommandArgs']> {
    const args = super.getRunContainerCommandArgs(options);
    // `container run`, then the runtime.
    return [...args.slice(0, 2), '--runtime', 'vmrt', ...args.slice(2)];
  }
}

/** Registers the vmrt client with each installed extension that takes one; returns what undoes it. */
export async function registerWithContainerTools(): Promise<vscode.Disposable[]> {
  const registrations: vscode.Disposable[] = [];
  for (const id of CONTAINER_TOOLS_IDS) {
    const extension = vscode.extensions.getExtension<ContainerToolsApi>(id);
    if (!extension) continue;
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      const registration = api?.registerContainerRuntimeClient?.(new VmrtDockerClient());
      if (registration) registrations.push(registration);
    } catch (error) {
      // Their API is theirs to change: vmrt's own views keep working without it.
      console.warn(`vmrt: could not register with ${id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return registrations;
}
