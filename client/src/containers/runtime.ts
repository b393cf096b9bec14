/**
 * The runtime half of the extension: the VM Containers view, its actions, the launch commands
 * and the `vmrt` debug type. Returns the API other extensions (and the editor tests) use.
 */
import * as vscode from 'vscode';
import { VmActions } from './actions.js';
import { VmContext } from './context.js';
import { VmDebugProvider } from './debug.js';
import { registerWithContainerTools } from '../container-tools.js';
import { VmExplorer, type VmContainer } from './explorer.js';
import { VmLauncher } from './launch.js';
import type { LaunchLint } from './lint-gate.js';

export interface VmRuntimeApi {
  /** The containers the VM Containers view shows, as it shows them. */
  containers(): Promise<VmContainer[]>;
  /** What the log channel of a container received so far (after "Follow Logs"). */
  logText(id: string): string | undefined;
}

/** `lint`: the language server's lint of what a launch is about to run (the launch gate). */
export function registerVmRuntime(context: vscode.ExtensionContext, lint: LaunchLint): VmRuntimeApi {
  const vm = new VmContext();
  const explorer = new VmExplorer(vm);
  const actions = new VmActions(vm, explorer);
  const launcher = new VmLauncher(vm, context.workspaceState, lint);
  const debug = new VmDebugProvider(vm, launcher, context.extensionUri);
  const view = vscode.window.createTreeView('vmrtContainers', { treeDataProvider: explorer, showCollapseAll: true });
  context.subscriptions.push(
    vm,
    explorer,
    actions,
    view,
    vscode.commands.registerCommand('vmrt.showRuntimeCheck', () => vm.showCheck()),
    vscode.commands.registerCommand('vmrt.containers.refresh', () => explorer.refresh()),
    ...actions.register(),
    ...launcher.register(),
    vscode.debug.registerDebugConfigurationProvider('vmrt', debug),
    vscode.debug.registerDebugAdapterDescriptorFactory('vmrt', debug),
  );
  void registerWithContainerTools().then((registrations) => context.subscriptions.push(...registrations));
  return {
    containers: () => explorer.list(),
    logText: (id) => actions.logs.get(id)?.text,
  };
}
