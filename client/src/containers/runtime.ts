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
import { ImagesView } from './images.js';
import { VmLauncher } from './launch.js';
import type { LaunchLint } from './lint-gate.js';
import { architectureProblem, bundledRuntime, launcherScript, stableLauncherPath, writeLauncher } from '../setup/bundled-runtime.js';
import { RuntimeSetup } from '../setup/set-up.js';
import { SetupView } from '../setup/setup-view.js';

export interface VmRuntimeApi {
  /** The containers the VM Containers view shows, as it shows them. */
  containers(): Promise<VmContainer[]>;
  /** What the log channel of a container received so far (after "Follow Logs"). */
  logText(id: string): string | undefined;
}

/** `lint`: the language server's lint of what a launch is about to run (the launch gate). */
export function registerVmRuntime(context: vscode.ExtensionContext, lint: LaunchLint): VmRuntimeApi {
  const bundled = bundledRuntime(context.extensionPath);
  // The launcher follows this version of the extension; a VSIX built for another machine gets none (Set-Up says why).
  if (bundled && !architectureProblem(bundled)) {
    try {
      writeLauncher(stableLauncherPath(), launcherScript(process.execPath, bundled));
    } catch (error) {
      void vscode.window.showWarningMessage(`vmrt: cannot write the runtime launcher ${stableLauncherPath()}: ${String(error)}`);
    }
  }
  const vm = new VmContext(bundled);
  const setup = new RuntimeSetup(vm, bundled);
  const setupView = new SetupView(setup);
  const images = new ImagesView(vm);
  const explorer = new VmExplorer(vm);
  const actions = new VmActions(vm, explorer);
  const launcher = new VmLauncher(vm, context.workspaceState, lint);
  const debug = new VmDebugProvider(vm, launcher, context.extensionUri);
  const view = vscode.window.createTreeView('vmrtContainers', { treeDataProvider: explorer, showCollapseAll: true });
  const setupTree = vscode.window.createTreeView('vmrtSetup', { treeDataProvider: setupView });
  // The survey runs `vmrt check`, which boots a probe VM: once the view is first seen, not at activation.
  let surveyed = false;
  const surveyWhenSeen = () => {
    if (!setupTree.visible || surveyed) return;
    surveyed = true;
    void setup.survey();
  };
  const surveyOnce = setupTree.onDidChangeVisibility(surveyWhenSeen);
  surveyWhenSeen();
  context.subscriptions.push(
    vm,
    setup,
    setupView,
    setupTree,
    surveyOnce,
    images,
    vscode.window.createTreeView('vmrtImages', { treeDataProvider: images }),
    vscode.commands.registerCommand('vmrt.setUpRuntime', () => setup.run()),
    vscode.commands.registerCommand('vmrt.images.refresh', () => images.refresh()),
    vscode.commands.registerCommand('vmrt.image.run', (image: string) => vscode.commands.executeCommand('vmrt.runImage', { image })),
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
