/** The "Images" view: the images of the Docker host, each runnable in a VM (vmrt.runImage with it filled in). */
import * as vscode from 'vscode';
import type { VmContext } from './context.js';

export class ImagesView implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly listener: vscode.Disposable;

  constructor(private readonly vm: VmContext) {
    this.listener = vm.onDidChangeHost(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire();
  }

  async getChildren(): Promise<string[]> {
    try {
      const images = await this.vm.docker.listImages();
      return images.flatMap((image) => (image.RepoTags ?? []).filter((tag) => tag !== '<none>:<none>')).sort();
    } catch {
      return []; // Docker down: the welcome view says what to do.
    }
  }

  getTreeItem(tag: string): vscode.TreeItem {
    const item = new vscode.TreeItem(tag);
    item.iconPath = new vscode.ThemeIcon('package');
    item.contextValue = 'vmImage';
    return item;
  }

  dispose(): void {
    this.listener.dispose();
    this.changed.dispose();
  }
}
