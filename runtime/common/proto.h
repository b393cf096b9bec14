/* vmrt agent protocol, version 1: framing as specified in runtime/PROTOCOL.md.
 *
 *   u32 length (big-endian; 6 + payload, at most 1 MiB + 6)
 *   u8  version (1)
 *   u8  type
 *   u32 stream (big-endian)
 *   payload
 */
#ifndef VMRT_PROTO_H
#define VMRT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

#define VMRT_PROTO_VERSION 1
#define VMRT_HEADER_SIZE   10              /* length field + version + type + stream */
#define VMRT_MIN_LENGTH    6               /* value of the length field for an empty payload */
#define VMRT_MAX_PAYLOAD   (1024u * 1024u) /* 1 MiB */
#define VMRT_MAX_LENGTH    (VMRT_MAX_PAYLOAD + VMRT_MIN_LENGTH)

enum vmrt_frame_type {
    VMRT_HELLO = 0x01,
    VMRT_REQUEST = 0x02,
    VMRT_RESPONSE = 0x03,
    VMRT_STDIN = 0x10,
    VMRT_STDOUT = 0x11,
    VMRT_STDERR = 0x12,
    VMRT_STDIN_CLOSE = 0x13,
    VMRT_EXIT = 0x14,
    VMRT_RESIZE = 0x15,
    VMRT_SIGNAL = 0x16,
    VMRT_EVENT = 0x20,
    VMRT_DNS = 0x21,
};

/* 1 for the types that exist in version 1. */
int vmrt_type_known(uint8_t type);
/* 1 for the types whose payload is one JSON object. */
int vmrt_type_is_json(uint8_t type);
/* "HELLO", "STDOUT", ... or "UNKNOWN". */
const char *vmrt_type_name(uint8_t type);

/* A decoded frame. `payload` points into the reader's buffer and stays valid
 * only until the next call on that reader. */
struct vmrt_frame {
    uint8_t type;
    uint32_t stream;
    uint32_t payload_len;
    const uint8_t *payload;
};

/* Incremental reader: feed bytes (from any fd), take whole frames out. */
struct vmrt_reader {
    struct vmrt_buf in;
    size_t skip; /* bytes of the previous frame still to drop */
};

enum vmrt_read_result {
    VMRT_FRAME_OK = 1,         /* *out holds a well-formed frame */
    VMRT_FRAME_INCOMPLETE = 0, /* need more bytes */
    VMRT_FRAME_MALFORMED = -1, /* bad version / unknown type / bad JSON: the frame was
                                   dropped; out->stream and out->type are valid, answer
                                   with an ERROR response and carry on */
    VMRT_FRAME_FATAL = -2,     /* untrustworthy length: close the connection */
};

void vmrt_reader_init(struct vmrt_reader *r);
void vmrt_reader_free(struct vmrt_reader *r);
/* Reads once from fd into the reader. Returns bytes read (>0), 0 on EOF,
 * -1 on error (errno; EAGAIN for a non-blocking fd with nothing to read). */
long vmrt_reader_fill(struct vmrt_reader *r, int fd);
/* Adds bytes that were read elsewhere. */
void vmrt_reader_feed(struct vmrt_reader *r, const void *data, size_t n);
/* Takes the next frame out of the buffered bytes. On VMRT_FRAME_MALFORMED or
 * VMRT_FRAME_FATAL, *why (if not NULL) says what was wrong (static string).
 * JSON payloads are checked with json_validate. */
int vmrt_reader_next(struct vmrt_reader *r, struct vmrt_frame *out, const char **why);

/* Encodes the 10-byte header. */
void vmrt_encode_header(uint8_t hdr[VMRT_HEADER_SIZE], uint8_t type, uint32_t stream, uint32_t payload_len);
/* Appends a whole frame to an output queue (flush it with vmrt_buf_flush).
 * Returns -1 (appending nothing) when the payload exceeds VMRT_MAX_PAYLOAD. */
int vmrt_frame_append(struct vmrt_buf *out, uint8_t type, uint32_t stream, const void *payload, size_t payload_len);
/* Convenience: appends {"ok":false,"error":"<message>"} as a RESPONSE. */
void vmrt_append_error(struct vmrt_buf *out, uint32_t stream, const char *message);

static inline uint32_t vmrt_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void vmrt_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
