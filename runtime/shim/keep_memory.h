/* `vmrt-shim keep-memory`: holds a VM template's RAM (template.ts). */
#ifndef VMRT_SHIM_KEEP_MEMORY_H
#define VMRT_SHIM_KEEP_MEMORY_H

/* Runs `keep-memory --size BYTES`: the exit status (it returns only on a failure). */
int keep_memory_main(int argc, char **argv);

#endif
