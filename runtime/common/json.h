/* A small strict JSON (RFC 8259) parser and builder, enough for OCI
 * config.json and the agent protocol.
 *
 * Parsing produces a flat token array in document order. A container token
 * (object/array) is followed by its children; for an object the children
 * alternate key (a STRING token), value. `next` is the index just past a
 * token's whole subtree, so siblings are walked with i = toks[i].next.
 */
#ifndef VMRT_JSON_H
#define VMRT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSON_MAX_DEPTH 64

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_tok {
    enum json_type type;
    uint32_t start; /* byte range in the source; for strings without the quotes */
    uint32_t end;
    uint32_t size; /* ARRAY: elements; OBJECT: key/value pairs */
    int next;      /* index of the token after this subtree */
};

struct json_doc {
    const char *src; /* not copied: must outlive the doc */
    size_t len;
    struct json_tok *toks;
    int ntoks;
    int cap;
    const char *error; /* after a failed parse: what was wrong */
    size_t error_pos;
};

/* Parses src[0..len). Returns 0 (root token is index 0) or -1 (doc->error
 * and doc->error_pos say why). Call json_free in both cases. */
int json_parse(struct json_doc *doc, const char *src, size_t len);
void json_free(struct json_doc *doc);
/* 0 when src is exactly one JSON object (whitespace around allowed). */
int json_validate(const char *src, size_t len);

/* Access helpers. Every `tok` argument may be -1 (absent): lookups then
 * return -1 and conversions return their default, so chains like
 * json_get(d, json_get(d, 0, "process"), "cwd") need no checks between. */
int json_get(const struct json_doc *d, int obj, const char *key);
int json_at(const struct json_doc *d, int arr, uint32_t index);
/* First element/value of a container, or -1. Keys are skipped for objects:
 * for an object it returns the first KEY token; its value is key + 1. */
int json_first(const struct json_doc *d, int container);
/* Sibling after `tok` inside `container` (for objects: next key), or -1. */
int json_next(const struct json_doc *d, int container, int tok);
/* Type tests. */
int json_is(const struct json_doc *d, int tok, enum json_type type);
uint32_t json_size(const struct json_doc *d, int tok);
/* Decoded string (escapes resolved, UTF-8), malloc'ed; NULL if tok is not a
 * string or contains a NUL character. */
char *json_strdup(const struct json_doc *d, int tok);
/* json_strdup of a member, or a strdup of def (NULL def stays NULL). */
char *json_get_strdup(const struct json_doc *d, int obj, const char *key, const char *def);
/* 1 when tok is a string equal to s (after unescaping). */
int json_str_eq(const struct json_doc *d, int tok, const char *s);
int json_bool_value(const struct json_doc *d, int tok, int def);
/* Integers: 0 on success, -1 when tok is not an integer that fits. */
int json_i64(const struct json_doc *d, int tok, int64_t *out);
int json_u64(const struct json_doc *d, int tok, uint64_t *out);
int64_t json_i64_or(const struct json_doc *d, int tok, int64_t def);
/* NULL-terminated array of strings from an array of strings (malloc'ed, free
 * with json_strv_free); NULL if tok is not an array of strings. */
char **json_strv(const struct json_doc *d, int tok);
void json_strv_free(char **v);

/* Builder: writes compact JSON into `out`, inserting commas itself. */
struct json_builder {
    struct vmrt_buf out;
    int depth;
    uint8_t need_comma[JSON_MAX_DEPTH + 1];
    int after_key;
};

void json_builder_init(struct json_builder *b);
void json_builder_free(struct json_builder *b);
/* NUL-terminated result. */
const char *json_builder_cstr(struct json_builder *b);
void json_obj_begin(struct json_builder *b);
void json_obj_end(struct json_builder *b);
void json_arr_begin(struct json_builder *b);
void json_arr_end(struct json_builder *b);
void json_key(struct json_builder *b, const char *key);
void json_str(struct json_builder *b, const char *s);
void json_strn(struct json_builder *b, const char *s, size_t n);
void json_int(struct json_builder *b, int64_t v);
void json_uint(struct json_builder *b, uint64_t v);
void json_bool(struct json_builder *b, int v);
/* Builds the whole object {"ok":false,"error":message}: a failed answer or ready line. */
void json_error_object(struct json_builder *b, const char *message);
/* Appends s as a quoted JSON string to any buffer. */
void json_escape(struct vmrt_buf *out, const char *s, size_t n);

#endif
