/**
 * The status-bar item that shows the lint profile of the active file (its folder's
 * .vmrt-lint.yaml wins over the setting, so the server says which); a click switches
 * the `vmrt.lint.profile` setting through a quick pick.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  ACTIVE_PROFILE,
  PROFILES,
  type ActiveProfileParams,
  type ActiveProfileResult,
  type ProfileChoice,
} from '../../server/src/lsp/protocol.js';

export class ProfileStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('vmrt.profile', vscode.StatusBarAlignment.Right, 100);
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly client: LanguageClient) {
    this.item.name = 'vmrt lint profile';
    this.item.command = 'vmrt.selectProfile';
    const configFiles = vscode.workspace.createFileSystemWatcher('**/.vmrt-lint.{yaml,yml}');
    this.subscriptions.push(
      configFiles,
      configFiles.onDidChange(() => this.refresh()),
      configFiles.onDidCreate(() => this.refresh()),
      configFiles.onDidDelete(() => this.refresh()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('vmrt.lint')) this.refresh();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.refresh()),
    );
    this.item.text = `$(vm) vmrt: ${this.setting}`;
    this.item.show();
  }

  private get setting(): string {
    return vscode.workspace.getConfiguration('vmrt.lint').get<string>('profile', 'vmrt');
  }

  async pick(): Promise<void> {
    const current = this.setting;
    const profiles = await this.client.sendRequest<ProfileChoice[]>(PROFILES);
    const items = profiles.map(({ profile, description }) => ({
      label: profile,
      description: profile === current ? '(setting)' : '',
      detail: description,
    }));
    const chosen = await vscode.window.showQuickPick(items, {
      title: 'vmrt: lint profile',
      placeHolder: `Setting: ${current} (a .vmrt-lint.yaml profile wins for its folder)`,
    });
    if (!chosen || chosen.label === current) return;
    const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await vscode.workspace.getConfiguration('vmrt.lint').update('profile', chosen.label, target);
  }

  private refresh(): void {
    this.render().catch((error: unknown) => this.client.warn('vmrt: cannot show the active profile', error));
  }

  /** Asks the server which profile applies to the active file. */
  async render(): Promise<void> {
    if (!vscode.workspace.getConfiguration('vmrt.lint').get<boolean>('enable', true)) {
      this.item.text = '$(vm) vmrt: off';
      this.item.tooltip = 'vmrt linting is off (vmrt.lint.enable). Click to pick a profile.';
      return;
    }
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const active: ActiveProfileResult =
      uri && this.client.isRunning()
        ? await this.client.sendRequest<ActiveProfileResult>(ACTIVE_PROFILE, { uri } satisfies ActiveProfileParams)
        : { profile: this.setting, description: '' };
    this.item.text = `$(vm) vmrt: ${active.profile}`;
    // The server sends the profile's description with it (the client knows no profiles).
    const described = active.description ? ` (${active.description})` : '';
    this.item.tooltip = active.configFile
      ? `vmrt: profile ${active.profile}${described} from ${vscode.workspace.asRelativePath(active.configFile)}. Click to change the setting.`
      : `vmrt: ${active.profile}${described}, the runtime whose differences are reported (setting vmrt.lint.profile). Click to switch.`;
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.item.dispose();
  }
}
