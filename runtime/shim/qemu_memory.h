/* `vmrt-shim qemu-memory`: runs a VM's QEMU with the host memory policy it is to have. */
#ifndef VMRT_SHIM_QEMU_MEMORY_H
#define VMRT_SHIM_QEMU_MEMORY_H

/* Runs `qemu-memory [--merge] [--no-huge-pages] PROGRAM [ARG...]`: execs PROGRAM; returns (an
 * exit status) only on a failure. */
int qemu_memory_main(int argc, char **argv);

#endif
