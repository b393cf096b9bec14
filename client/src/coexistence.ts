/**
 * Docker DX, Red Hat YAML and Container Tools already report Dockerfile and compose
 * syntax errors; when one of them is installed our server leaves those to it
 * (the etiquette of compose-language-service's AlternateYamlLanguageServiceClientFeature).
 */
import * as vscode from 'vscode';
import type { SyntaxKind } from '../../server/src/lsp/protocol.js';

const OWNERS: Record<SyntaxKind, readonly string[]> = {
  dockerfile: ['docker.docker', 'ms-azuretools.vscode-containers', 'ms-azuretools.vscode-docker'],
  compose: ['docker.docker', 'redhat.vscode-yaml', 'ms-azuretools.vscode-containers', 'ms-azuretools.vscode-docker'],
};

/** The file kinds whose syntax errors another installed extension reports. */
export function syntaxOwners(): SyntaxKind[] {
  return (Object.keys(OWNERS) as SyntaxKind[]).filter((kind) =>
    OWNERS[kind].some((id) => vscode.extensions.getExtension(id) !== undefined),
  );
}
