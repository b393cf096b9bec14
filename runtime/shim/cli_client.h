/* `vmrt-shim cli`: the launcher's way into the CLI server of a root (README: The CLI server). */
#ifndef VMRT_SHIM_CLI_CLIENT_H
#define VMRT_SHIM_CLI_CLIENT_H

/* Runs `cli NODE SCRIPT [ARG...]`: the call `vmrt ARG...`, served by the CLI server of its
 * `--root` when one serves it, else by exec'ing NODE SCRIPT ARG... (after starting a server for
 * the next calls). Returns (an exit status) only when it could do neither. */
int cli_client_main(int argc, char **argv);

#endif
