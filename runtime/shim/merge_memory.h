/* `vmrt-shim merge-memory`: runs a VM's QEMU with all of its memory open to same-page merging. */
#ifndef VMRT_SHIM_MERGE_MEMORY_H
#define VMRT_SHIM_MERGE_MEMORY_H

/* Runs `merge-memory PROGRAM [ARG...]`: execs PROGRAM; returns (an exit status) only on a failure. */
int merge_memory_main(int argc, char **argv);

#endif
