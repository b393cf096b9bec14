#!/usr/bin/env node
/**
 * vmrt-language-server: the vmrt lint engine over the Language Server Protocol.
 * `--stdio` for any editor (Neovim, Helix, Emacs, Zed), `--node-ipc` when VS Code forks it,
 * `--socket=<port>` also works (vscode-languageserver reads the transport from argv).
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server.js';

if (!process.argv.some((arg) => arg === '--stdio' || arg === '--node-ipc' || arg.startsWith('--socket=') || arg.startsWith('--pipe='))) {
  process.stderr.write('usage: vmrt-language-server --stdio | --node-ipc | --socket=<port> | --pipe=<name>\n');
  process.exit(2);
}
startServer(createConnection(ProposedFeatures.all));
