/** The status-bar item that shows the active lint profile; a click switches it (and writes the setting). */
import * as vscode from 'vscode';
import { getProfile, PROFILE_NAMES } from '../../server/src/profiles/index.js';

export class ProfileStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('vmrt.profile', vscode.StatusBarAlignment.Right, 100);
  private readonly listener: vscode.Disposable;

  constructor() {
    this.item.name = 'vmrt lint profile';
    this.item.command = 'vmrt.selectProfile';
    this.item.tooltip = 'vmrt: the runtime whose differences are reported. Click to switch.';
    this.listener = vscode.workspace.onDidChangeConfiguration((event) => { if (event.affectsConfiguration('vmrt.lint')) this.render(); });
    this.render();
    this.item.show();
  }

  get profile(): string {
    return vscode.workspace.getConfiguration('vmrt.lint').get<string>('profile', 'vmrt');
  }

  async pick(): Promise<void> {
    const current = this.profile;
    const items = PROFILE_NAMES.map((id) => ({ label: id, description: id === current ? '(active)' : '', detail: getProfile(id).description }));
    const chosen = await vscode.window.showQuickPick(items, { title: 'vmrt: lint profile', placeHolder: `Active: ${current}` });
    if (!chosen || chosen.label === current) return;
    const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await vscode.workspace.getConfiguration('vmrt.lint').update('profile', chosen.label, target);
  }

  dispose(): void {
    this.listener.dispose();
    this.item.dispose();
  }

  private render(): void {
    const enabled = vscode.workspace.getConfiguration('vmrt.lint').get<boolean>('enable', true);
    this.item.text = enabled ? `$(vm) vmrt: ${this.profile}` : '$(vm) vmrt: off';
  }
}
