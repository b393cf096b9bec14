/* The agent's requests (ops.c): one handler per op of runtime/PROTOCOL.md. */
#ifndef VMRT_OPS_H
#define VMRT_OPS_H

#include "agent.h"

/* Answers one REQUEST frame (its payload parsed into d). */
void handle_request(uint32_t stream, const struct json_doc *d);

#endif
