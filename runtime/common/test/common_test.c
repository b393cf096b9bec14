/* Unit test of the frame codec, the JSON parser/builder and the file reads (make check). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "proto.h"
#include "test/check.h"

static void test_json_parse(void)
{
    const char *src = "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,"
                      "\"args\":[\"sh\",\"-c\",\"echo \\\"hi\\\"\\n\"],\"user\":{\"uid\":1000,"
                      "\"gid\":-1},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":18446744073709551615}]},"
                      "\"name\":\"caf\\u00e9 \\ud83d\\ude00\",\"empty\":{},\"list\":[]}";
    struct json_doc d;
    CHECK(json_parse(&d, src, strlen(src)) == 0);
    int proc = json_get(&d, 0, "process");
    CHECK(json_is(&d, proc, JSON_OBJECT));
    CHECK(json_bool_value(&d, json_get(&d, proc, "terminal"), 0) == 1);
    char **args = json_strv(&d, json_get(&d, proc, "args"));
    CHECK(args && strcmp(args[0], "sh") == 0 && strcmp(args[2], "echo \"hi\"\n") == 0 && !args[3]);
    json_strv_free(args);
    int user = json_get(&d, proc, "user");
    CHECK(json_i64_or(&d, json_get(&d, user, "uid"), 0) == 1000);
    CHECK(json_i64_or(&d, json_get(&d, user, "gid"), 0) == -1);
    uint64_t hard = 0;
    CHECK(json_u64(&d, json_get(&d, json_at(&d, json_get(&d, proc, "rlimits"), 0), "hard"), &hard) == 0);
    CHECK(hard == UINT64_MAX);
    char *name = json_get_strdup(&d, 0, "name", NULL);
    CHECK(name && strcmp(name, "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0);
    free(name);
    CHECK(json_size(&d, json_get(&d, 0, "empty")) == 0);
    CHECK(json_first(&d, json_get(&d, 0, "list")) == -1);
    CHECK(json_get(&d, 0, "missing") == -1);
    CHECK(json_get(&d, json_get(&d, 0, "missing"), "x") == -1);
    /* Sibling walk over the top-level keys. */
    int keys = 0;
    for (int k = json_first(&d, 0); k >= 0; k = json_next(&d, 0, k)) keys++;
    CHECK(keys == 5);
    json_free(&d);

    const char *bad[] = { "",      "{",          "{\"a\":}",  "{\"a\":1,}",
                          "[1 2]", "{\"a\":01}", "\"\\x\"",   "{\"a\":\"\x01\"}",
                          "{} x",  "tru",        "{\"a\":-}", "{\"a\":1.}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(json_parse(&d, bad[i], strlen(bad[i])) != 0);
        json_free(&d);
    }
    CHECK(json_validate("[1]", 3) != 0); /* valid JSON but not an object */
    CHECK(json_validate(" {\"a\":[1,2.5e3,null,false]} ", 28) == 0);
}

static void test_json_build(void)
{
    struct json_builder b;
    json_builder_init(&b);
    json_obj_begin(&b);
    json_key(&b, "ok");
    json_bool(&b, 1);
    json_key(&b, "list");
    json_arr_begin(&b);
    json_int(&b, -5);
    json_str(&b, "a\"b\\c\n\x01");
    json_obj_begin(&b);
    json_obj_end(&b);
    json_arr_end(&b);
    json_key(&b, "n");
    json_uint(&b, 18446744073709551615ull);
    json_obj_end(&b);
    const char *want = "{\"ok\":true,\"list\":[-5,\"a\\\"b\\\\c\\n\\u0001\",{}],\"n\":18446744073709551615}";
    CHECK(strcmp(json_builder_cstr(&b), want) == 0);
    json_builder_free(&b);
}

static void test_frames(void)
{
    struct vmrt_buf out = { 0 };
    CHECK(vmrt_frame_append(&out, VMRT_REQUEST, 7, "{\"op\":\"state\"}", 14) == 0);
    CHECK(vmrt_frame_append(&out, VMRT_STDOUT, 0x01020304, "xy", 2) == 0);
    const uint8_t *p = vmrt_buf_pending(&out);
    CHECK(vmrt_buf_pending_len(&out) == 10 + 14 + 10 + 2);
    CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 20 && p[4] == 1 && p[5] == 2 && p[9] == 7);

    struct vmrt_reader r;
    struct vmrt_frame f;
    const char *why = NULL;
    vmrt_reader_init(&r);
    /* Byte by byte: incomplete until the whole frame is there. */
    size_t n = vmrt_buf_pending_len(&out);
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        vmrt_reader_feed(&r, p + i, 1);
        int rc;
        while ((rc = vmrt_reader_next(&r, &f, &why)) == VMRT_FRAME_OK) {
            if (got == 0) {
                CHECK(f.type == VMRT_REQUEST && f.stream == 7 && f.payload_len == 14);
                CHECK(memcmp(f.payload, "{\"op\":\"state\"}", 14) == 0);
            } else {
                CHECK(f.type == VMRT_STDOUT && f.stream == 0x01020304 && f.payload_len == 2);
                CHECK(memcmp(f.payload, "xy", 2) == 0);
            }
            got++;
        }
        CHECK(rc == VMRT_FRAME_INCOMPLETE);
    }
    CHECK(got == 2);

    /* Malformed but trustworthy: dropped, stream reported, next frame fine. */
    uint8_t bad[] = { 0, 0, 0, 8, 2, 0x02, 0, 0, 0, 9, '{', '}' }; /* version 2 */
    uint8_t unk[] = { 0, 0, 0, 6, 1, 0x7f, 0, 0, 0, 10 };          /* unknown type */
    uint8_t notjson[] = { 0, 0, 0, 8, 1, 0x02, 0, 0, 0, 11, '{', '!' };
    vmrt_reader_feed(&r, bad, sizeof bad);
    vmrt_reader_feed(&r, unk, sizeof unk);
    vmrt_reader_feed(&r, notjson, sizeof notjson);
    vmrt_frame_append(&out, VMRT_STDIN_CLOSE, 12, NULL, 0);
    vmrt_buf_consume(&out, 10 + 14 + 10 + 2);
    vmrt_reader_feed(&r, vmrt_buf_pending(&out), vmrt_buf_pending_len(&out));
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_MALFORMED && f.stream == 9);
    CHECK(strcmp(why, "unsupported protocol version") == 0);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_MALFORMED && f.stream == 10);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_MALFORMED && f.stream == 11);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_OK && f.type == VMRT_STDIN_CLOSE && f.stream == 12 &&
          f.payload_len == 0);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_INCOMPLETE);

    /* Untrustworthy lengths. */
    uint8_t shortlen[] = { 0, 0, 0, 5, 1, 1, 0, 0, 0, 0 };
    vmrt_reader_feed(&r, shortlen, sizeof shortlen);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_FATAL);
    uint8_t biglen[] = { 0, 0x10, 0, 7 };
    vmrt_reader_feed(&r, biglen, sizeof biglen);
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_FATAL);
    CHECK(vmrt_frame_append(&out, VMRT_STDOUT, 1, NULL, VMRT_MAX_PAYLOAD + 1) == -1);

    /* Error responses are valid JSON with the message escaped. */
    vmrt_buf_clear(&out);
    vmrt_append_error(&out, 3, "bad \"thing\"");
    vmrt_reader_feed(&r, vmrt_buf_pending(&out), vmrt_buf_pending_len(&out));
    CHECK(vmrt_reader_next(&r, &f, &why) == VMRT_FRAME_OK && f.type == VMRT_RESPONSE && f.stream == 3);
    CHECK(f.payload_len == strlen("{\"ok\":false,\"error\":\"bad \\\"thing\\\"\"}"));
    vmrt_reader_free(&r);
    vmrt_buf_free(&out);
}

static void test_files(void)
{
    char path[] = "/tmp/vmrt-common-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    CHECK(write_text(path, "oom 0\noom_kill 3\n") == 0);

    /* read_file: one read of at most len - 1 bytes, NUL-terminated. */
    char small[8], big[64];
    CHECK(read_file(path, big, sizeof big) == 17 && strcmp(big, "oom 0\noom_kill 3\n") == 0);
    CHECK(read_file(path, small, sizeof small) == 7 && strcmp(small, "oom 0\no") == 0);

    /* read_all: the whole file, appended to what the buffer holds. */
    struct vmrt_buf b = { 0 };
    vmrt_buf_puts(&b, ">");
    CHECK(read_all(path, &b) == 0);
    CHECK(vmrt_buf_pending_len(&b) == 18 && memcmp(vmrt_buf_pending(&b), ">oom 0\noom_kill 3\n", 18) == 0);
    vmrt_buf_free(&b);

    unlink(path);
    strcpy(big, "kept");
    CHECK(read_file(path, big, sizeof big) == -1 && errno == ENOENT && strcmp(big, "kept") == 0);
    CHECK(read_all(path, &b) == -1 && errno == ENOENT && b.len == 0);
    vmrt_buf_free(&b);
}

int main(void)
{
    test_json_parse();
    test_json_build();
    test_frames();
    test_files();
    return checks_done("common");
}
