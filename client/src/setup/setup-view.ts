/** The "Set-Up" view: each prerequisite of the last survey, with its fix; empty until one ran (its welcome leads to set-up). */
import * as vscode from 'vscode';
import type { RuntimeSetup, SetupStep } from './set-up.js';

export class SetupView implements vscode.TreeDataProvider<SetupStep>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly listener: vscode.Disposable;

  constructor(private readonly setup: RuntimeSetup) {
    this.listener = setup.onDidChange(() => this.changed.fire());
  }

  getChildren(): SetupStep[] {
    return this.setup.steps;
  }

  getTreeItem(step: SetupStep): vscode.TreeItem {
    const item = new vscode.TreeItem(step.name);
    item.description = step.ok ? step.detail : (step.fix ?? step.detail);
    item.tooltip = step.fix ? `${step.detail}\nFix: ${step.fix}` : step.detail;
    item.iconPath = new vscode.ThemeIcon(step.ok ? 'pass' : 'error');
    return item;
  }

  dispose(): void {
    this.listener.dispose();
    this.changed.dispose();
  }
}
