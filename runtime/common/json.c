#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- parser ---------- */

struct parser {
    struct json_doc *d;
    size_t pos;
};

static int fail(struct parser *p, const char *why)
{
    if (!p->d->error) {
        p->d->error = why;
        p->d->error_pos = p->pos;
    }
    return -1;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->d->len) {
        char c = p->d->src[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

static int new_tok(struct parser *p, enum json_type type, size_t start)
{
    struct json_doc *d = p->d;
    if (d->ntoks == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        struct json_tok *t = realloc(d->toks, (size_t)cap * sizeof *t);
        if (!t) {
            return fail(p, "out of memory");
        }
        d->toks = t;
        d->cap = cap;
    }
    struct json_tok *t = &d->toks[d->ntoks];
    t->type = type;
    t->start = (uint32_t)start;
    t->end = (uint32_t)start;
    t->size = 0;
    t->next = d->ntoks + 1;
    return d->ntoks++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_string(struct parser *p)
{
    const char *s = p->d->src;
    size_t start = ++p->pos; /* past the opening quote */
    while (p->pos < p->d->len) {
        unsigned char c = (unsigned char)s[p->pos];
        if (c == '"') {
            int t = new_tok(p, JSON_STRING, start);
            if (t < 0) {
                return -1;
            }
            p->d->toks[t].end = (uint32_t)p->pos;
            p->pos++;
            return t;
        }
        if (c < 0x20) {
            return fail(p, "control character in string");
        }
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->d->len) {
                break;
            }
            char e = s[p->pos];
            if (e == 'u') {
                if (p->pos + 4 >= p->d->len) {
                    return fail(p, "short \\u escape");
                }
                for (int i = 1; i <= 4; i++) {
                    if (hexval(s[p->pos + i]) < 0) {
                        return fail(p, "bad \\u escape");
                    }
                }
                p->pos += 4;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return fail(p, "bad escape");
            }
        }
        p->pos++;
    }
    return fail(p, "unterminated string");
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p)
{
    const char *s = p->d->src;
    size_t n = p->d->len, start = p->pos;
    if (p->pos < n && s[p->pos] == '-') p->pos++;
    if (p->pos >= n || !is_digit(s[p->pos])) return fail(p, "bad number");
    if (s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < n && is_digit(s[p->pos])) p->pos++;
    }
    if (p->pos < n && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= n || !is_digit(s[p->pos])) return fail(p, "bad fraction");
        while (p->pos < n && is_digit(s[p->pos])) p->pos++;
    }
    if (p->pos < n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < n && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (p->pos >= n || !is_digit(s[p->pos])) return fail(p, "bad exponent");
        while (p->pos < n && is_digit(s[p->pos])) p->pos++;
    }
    int t = new_tok(p, JSON_NUMBER, start);
    if (t >= 0) p->d->toks[t].end = (uint32_t)p->pos;
    return t;
}

static int parse_literal(struct parser *p, const char *word, enum json_type type)
{
    size_t n = strlen(word);
    if (p->d->len - p->pos < n || memcmp(p->d->src + p->pos, word, n) != 0) {
        return fail(p, "unexpected character");
    }
    int t = new_tok(p, type, p->pos);
    p->pos += n;
    if (t >= 0) p->d->toks[t].end = (uint32_t)p->pos;
    return t;
}

static int parse_value(struct parser *p, int depth);

static int parse_container(struct parser *p, int depth, int is_object)
{
    if (depth >= JSON_MAX_DEPTH) {
        return fail(p, "nesting too deep");
    }
    int t = new_tok(p, is_object ? JSON_OBJECT : JSON_ARRAY, p->pos);
    if (t < 0) return -1;
    char close = is_object ? '}' : ']';
    uint32_t size = 0;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->d->len && p->d->src[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (is_object) {
                if (p->pos >= p->d->len || p->d->src[p->pos] != '"') {
                    return fail(p, "expected a key");
                }
                if (parse_string(p) < 0) return -1;
                skip_ws(p);
                if (p->pos >= p->d->len || p->d->src[p->pos] != ':') {
                    return fail(p, "expected ':'");
                }
                p->pos++;
            }
            if (parse_value(p, depth + 1) < 0) return -1;
            size++;
            skip_ws(p);
            if (p->pos >= p->d->len) return fail(p, "unterminated container");
            char c = p->d->src[p->pos++];
            if (c == close) break;
            if (c != ',') return fail(p, "expected ',' or end of container");
        }
    }
    /* Children may have moved the array: index again. */
    p->d->toks[t].size = size;
    p->d->toks[t].end = (uint32_t)p->pos;
    p->d->toks[t].next = p->d->ntoks;
    return t;
}

static int parse_value(struct parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->d->len) {
        return fail(p, "unexpected end of input");
    }
    switch (p->d->src[p->pos]) {
    case '{': return parse_container(p, depth, 1);
    case '[': return parse_container(p, depth, 0);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", JSON_BOOL);
    case 'f': return parse_literal(p, "false", JSON_BOOL);
    case 'n': return parse_literal(p, "null", JSON_NULL);
    default: return parse_number(p);
    }
}

int json_parse(struct json_doc *doc, const char *src, size_t len)
{
    memset(doc, 0, sizeof *doc);
    doc->src = src;
    doc->len = len;
    if (len > UINT32_MAX) {
        doc->error = "document too large";
        return -1;
    }
    struct parser p = { doc, 0 };
    if (parse_value(&p, 0) < 0) {
        return -1;
    }
    skip_ws(&p);
    if (p.pos != len) {
        return fail(&p, "trailing characters");
    }
    return 0;
}

void json_free(struct json_doc *doc)
{
    free(doc->toks);
    doc->toks = NULL;
    doc->ntoks = doc->cap = 0;
}

int json_validate(const char *src, size_t len)
{
    struct json_doc d;
    int rc = json_parse(&d, src, len);
    if (rc == 0 && d.toks[0].type != JSON_OBJECT) {
        rc = -1;
    }
    json_free(&d);
    return rc;
}

/* ---------- access ---------- */

static int valid(const struct json_doc *d, int tok)
{
    return tok >= 0 && tok < d->ntoks;
}

int json_is(const struct json_doc *d, int tok, enum json_type type)
{
    return valid(d, tok) && d->toks[tok].type == type;
}

uint32_t json_size(const struct json_doc *d, int tok)
{
    return valid(d, tok) ? d->toks[tok].size : 0;
}

int json_first(const struct json_doc *d, int container)
{
    if (!valid(d, container) || d->toks[container].size == 0) {
        return -1;
    }
    enum json_type t = d->toks[container].type;
    return (t == JSON_OBJECT || t == JSON_ARRAY) ? container + 1 : -1;
}

int json_next(const struct json_doc *d, int container, int tok)
{
    if (!valid(d, container) || !valid(d, tok)) {
        return -1;
    }
    int n = d->toks[tok].next;
    if (d->toks[container].type == JSON_OBJECT) {
        n = d->toks[n].next; /* skip the value */
    }
    return n < d->toks[container].next ? n : -1;
}

/* Decodes the string token into dst (which holds at least end-start+1
 * bytes). Returns the decoded length, or -1 for an embedded NUL. */
static long decode_string(const struct json_doc *d, int tok, char *dst)
{
    const char *s = d->src + d->toks[tok].start, *e = d->src + d->toks[tok].end;
    char *o = dst;
    while (s < e) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++) cp = cp * 16 + (uint32_t)hexval(*s++);
            if (cp >= 0xD800 && cp <= 0xDBFF && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                uint32_t lo = 0;
                int ok = 1;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(s[i]);
                    if (h < 0) ok = 0;
                    lo = lo * 16 + (uint32_t)(h < 0 ? 0 : h);
                }
                if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            if (cp == 0) return -1;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate */
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: *o++ = c; break; /* " \ / */
        }
    }
    *o = '\0';
    return o - dst;
}

char *json_strdup(const struct json_doc *d, int tok)
{
    if (!json_is(d, tok, JSON_STRING)) {
        return NULL;
    }
    /* Decoding never grows: every escape is at least as long as its UTF-8. */
    char *out = malloc(d->toks[tok].end - d->toks[tok].start + 1);
    if (!out) {
        return NULL;
    }
    if (decode_string(d, tok, out) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *json_get_strdup(const struct json_doc *d, int obj, const char *key, const char *def)
{
    int t = json_get(d, obj, key);
    if (json_is(d, t, JSON_STRING)) {
        return json_strdup(d, t);
    }
    return def ? strdup(def) : NULL;
}

int json_str_eq(const struct json_doc *d, int tok, const char *s)
{
    if (!json_is(d, tok, JSON_STRING)) {
        return 0;
    }
    const struct json_tok *t = &d->toks[tok];
    size_t raw = t->end - t->start;
    /* Fast path: no escapes. */
    if (!memchr(d->src + t->start, '\\', raw)) {
        return strlen(s) == raw && memcmp(d->src + t->start, s, raw) == 0;
    }
    char *v = json_strdup(d, tok);
    int eq = v && strcmp(v, s) == 0;
    free(v);
    return eq;
}

int json_get(const struct json_doc *d, int obj, const char *key)
{
    if (!json_is(d, obj, JSON_OBJECT)) {
        return -1;
    }
    for (int k = json_first(d, obj); k >= 0; k = json_next(d, obj, k)) {
        if (json_str_eq(d, k, key)) {
            return k + 1;
        }
    }
    return -1;
}

int json_at(const struct json_doc *d, int arr, uint32_t index)
{
    if (!json_is(d, arr, JSON_ARRAY) || index >= d->toks[arr].size) {
        return -1;
    }
    int t = arr + 1;
    for (uint32_t i = 0; i < index; i++) {
        t = d->toks[t].next;
    }
    return t;
}

int json_bool_value(const struct json_doc *d, int tok, int def)
{
    if (!json_is(d, tok, JSON_BOOL)) {
        return def;
    }
    return d->src[d->toks[tok].start] == 't';
}

/* Parses an integer token (no fraction/exponent) into magnitude + sign. */
static int int_parts(const struct json_doc *d, int tok, uint64_t *mag, int *neg)
{
    if (!json_is(d, tok, JSON_NUMBER)) {
        return -1;
    }
    const char *s = d->src + d->toks[tok].start, *e = d->src + d->toks[tok].end;
    *neg = 0;
    if (*s == '-') {
        *neg = 1;
        s++;
    }
    uint64_t v = 0;
    for (; s < e; s++) {
        if (!is_digit(*s)) {
            return -1; /* fraction or exponent */
        }
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return -1;
        }
        v = v * 10 + digit;
    }
    *mag = v;
    return 0;
}

int json_i64(const struct json_doc *d, int tok, int64_t *out)
{
    uint64_t mag;
    int neg;
    if (int_parts(d, tok, &mag, &neg) != 0) {
        return -1;
    }
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return -1;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)mag;
    }
    return 0;
}

int json_u64(const struct json_doc *d, int tok, uint64_t *out)
{
    uint64_t mag;
    int neg;
    if (int_parts(d, tok, &mag, &neg) != 0 || (neg && mag != 0)) {
        return -1;
    }
    *out = mag;
    return 0;
}

int64_t json_i64_or(const struct json_doc *d, int tok, int64_t def)
{
    int64_t v;
    return json_i64(d, tok, &v) == 0 ? v : def;
}

char **json_strv(const struct json_doc *d, int tok)
{
    if (!json_is(d, tok, JSON_ARRAY)) {
        return NULL;
    }
    uint32_t n = d->toks[tok].size;
    char **v = calloc(n + 1, sizeof *v);
    if (!v) {
        return NULL;
    }
    uint32_t i = 0;
    for (int t = json_first(d, tok); t >= 0; t = json_next(d, tok, t)) {
        v[i] = json_strdup(d, t);
        if (!v[i]) {
            json_strv_free(v);
            return NULL;
        }
        i++;
    }
    return v;
}

void json_strv_free(char **v)
{
    if (!v) {
        return;
    }
    for (char **p = v; *p; p++) {
        free(*p);
    }
    free(v);
}

/* ---------- builder ---------- */

void json_builder_init(struct json_builder *b)
{
    memset(b, 0, sizeof *b);
}

void json_builder_free(struct json_builder *b)
{
    vmrt_buf_free(&b->out);
}

const char *json_builder_cstr(struct json_builder *b)
{
    return vmrt_buf_cstr(&b->out);
}

/* Emits the comma before a value unless it follows a key. */
static void before_value(struct json_builder *b)
{
    if (b->after_key) {
        b->after_key = 0;
        return;
    }
    if (b->need_comma[b->depth]) {
        vmrt_buf_putc(&b->out, ',');
    }
    b->need_comma[b->depth] = 1;
}

static void open(struct json_builder *b, char c)
{
    before_value(b);
    vmrt_buf_putc(&b->out, c);
    if (b->depth < JSON_MAX_DEPTH) {
        b->depth++;
    }
    b->need_comma[b->depth] = 0;
}

static void close_(struct json_builder *b, char c)
{
    vmrt_buf_putc(&b->out, c);
    if (b->depth > 0) {
        b->depth--;
    }
}

void json_obj_begin(struct json_builder *b)
{
    open(b, '{');
}
void json_obj_end(struct json_builder *b)
{
    close_(b, '}');
}
void json_arr_begin(struct json_builder *b)
{
    open(b, '[');
}
void json_arr_end(struct json_builder *b)
{
    close_(b, ']');
}

void json_key(struct json_builder *b, const char *key)
{
    before_value(b);
    json_escape(&b->out, key, strlen(key));
    vmrt_buf_putc(&b->out, ':');
    b->after_key = 1;
}

void json_str(struct json_builder *b, const char *s)
{
    json_strn(b, s, strlen(s));
}

void json_strn(struct json_builder *b, const char *s, size_t n)
{
    before_value(b);
    json_escape(&b->out, s, n);
}

void json_int(struct json_builder *b, int64_t v)
{
    before_value(b);
    vmrt_buf_printf(&b->out, "%lld", (long long)v);
}

void json_uint(struct json_builder *b, uint64_t v)
{
    before_value(b);
    vmrt_buf_printf(&b->out, "%llu", (unsigned long long)v);
}

void json_bool(struct json_builder *b, int v)
{
    before_value(b);
    vmrt_buf_puts(&b->out, v ? "true" : "false");
}

void json_escape(struct vmrt_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    vmrt_buf_reserve(out, n + 2);
    vmrt_buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': vmrt_buf_puts(out, "\\\""); break;
        case '\\': vmrt_buf_puts(out, "\\\\"); break;
        case '\n': vmrt_buf_puts(out, "\\n"); break;
        case '\r': vmrt_buf_puts(out, "\\r"); break;
        case '\t': vmrt_buf_puts(out, "\\t"); break;
        case '\b': vmrt_buf_puts(out, "\\b"); break;
        case '\f': vmrt_buf_puts(out, "\\f"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                vmrt_buf_append(out, u, sizeof u);
            } else {
                vmrt_buf_putc(out, (char)c);
            }
        }
    }
    vmrt_buf_putc(out, '"');
}

void json_error_object(struct json_builder *b, const char *message)
{
    json_obj_begin(b);
    json_key(b, "ok");
    json_bool(b, 0);
    json_key(b, "error");
    json_str(b, message);
    json_obj_end(b);
}
