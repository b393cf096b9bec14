/* Unit test of the seccomp compiler (make check): the filter it builds, run by a classic BPF
 * interpreter, decides every syscall number and a set of arguments as the profile read rule
 * after rule does (the OCI semantics: the first rule whose syscall and conditions match). */
#include "../seccomp.c"
#include "test/check.h"

/* What the kernel does with the filter: the instructions the compiler emits, nothing else. */
static uint32_t run_filter(const struct program *p, const struct seccomp_data *data)
{
    uint32_t a = 0;
    for (unsigned pc = 0; pc < p->len; pc++) {
        const struct sock_filter *i = &p->insns[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS: memcpy(&a, (const char *)data + i->k, 4); break;
        case BPF_ALU | BPF_AND | BPF_K: a &= i->k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JGT | BPF_K: pc += a > i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i->k ? i->jt : i->jf; break;
        case BPF_RET | BPF_K: return i->k;
        default: fprintf(stderr, "instruction %u: code 0x%x\n", pc, i->code); return 0xdeadbeef;
        }
    }
    return 0xfeedface; /* ran off the end */
}

static int holds(const struct json_doc *d, int cond, const uint64_t args[6])
{
    int64_t index = -1;
    uint64_t value = 0, two = 0;
    json_i64(d, json_get(d, cond, "index"), &index);
    json_u64(d, json_get(d, cond, "value"), &value);
    json_u64(d, json_get(d, cond, "valueTwo"), &two);
    uint64_t arg = args[index];
    int op = json_get(d, cond, "op");
    if (json_str_eq(d, op, "SCMP_CMP_EQ")) return arg == value;
    if (json_str_eq(d, op, "SCMP_CMP_NE")) return arg != value;
    if (json_str_eq(d, op, "SCMP_CMP_MASKED_EQ")) return (arg & value) == two;
    if (json_str_eq(d, op, "SCMP_CMP_GT")) return arg > value;
    if (json_str_eq(d, op, "SCMP_CMP_GE")) return arg >= value;
    if (json_str_eq(d, op, "SCMP_CMP_LT")) return arg < value;
    return arg <= value; /* SCMP_CMP_LE */
}

/* The profile read as the OCI spec says, rule after rule. */
static uint32_t reference(const struct json_doc *d, int seccomp, const struct seccomp_data *data)
{
    uint32_t def = (uint32_t)action_value(d, seccomp, "defaultAction", "defaultErrnoRet");
    if (data->arch != AUDIT_ARCH_X86_64) return def;
    int list = json_get(d, seccomp, "syscalls");
    for (int r = json_first(d, list); r >= 0; r = json_next(d, list, r)) {
        int names = json_get(d, r, "names");
        for (int n = json_first(d, names); n >= 0; n = json_next(d, names, n)) {
            char *name = json_strdup(d, n);
            int nr = syscall_number(name);
            free(name);
            if (nr != data->nr) continue;
            int all = 1, args = json_get(d, r, "args");
            for (int c = json_first(d, args); all && c >= 0; c = json_next(d, args, c)) all = holds(d, c, data->args);
            if (all) return (uint32_t)action_value(d, r, "action", "errnoRet");
        }
    }
    return def;
}

/* Every syscall number up to past the last, with arguments on both sides of the conditions'
 * values (high and low halves), for one profile. */
static void check_profile(const char *json)
{
    struct json_doc d;
    CHECK(json_parse(&d, json, strlen(json)) == 0);
    struct program *p = calloc(1, sizeof *p);
    char err[256] = "";
    CHECK(p && build_filter(&d, 0, p, err, sizeof err) == 0);
    if (err[0]) fprintf(stderr, "build_filter: %s\n", err);
    static const uint64_t values[] = { 0, 1, 9, 10, 11, 19, 20, 25, 26, 0x100000000ULL, 0x100000014ULL, UINT64_MAX };
    int compared = 0;
    for (int nr = 0; nr < 520; nr++) {
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            struct seccomp_data data = { .nr = nr, .arch = AUDIT_ARCH_X86_64 };
            for (int a = 0; a < 6; a++) data.args[a] = values[(v + (size_t)a) % (sizeof values / sizeof *values)];
            uint32_t got = run_filter(p, &data), want = reference(&d, 0, &data);
            if (got != want && failures < 10)
                fprintf(stderr, "nr %d, args[1] %llu: filter 0x%x, profile 0x%x\n", nr,
                        (unsigned long long)data.args[1], got, want);
            CHECK(got == want);
            compared++;
        }
    }
    struct seccomp_data other = { .nr = 1, .arch = 0x40000003U /* i386 */ };
    CHECK(run_filter(p, &other) == reference(&d, 0, &other));
    CHECK(compared == 520 * 12);
    free(p);
    json_free(&d);
}

/* A profile of Docker's shape: every syscall the table knows allowed, some argument rules
 * (the same syscall in several rules, first match wins), an ERRNO default. */
static void test_docker_sized_profile(void)
{
    size_t room = 64 * 1024, len = 0;
    char *json = malloc(room);
    len +=
        (size_t)snprintf(json + len, room - len,
                         "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
                         "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
                         "\"args\":[{\"index\":1,\"value\":10,\"op\":\"SCMP_CMP_EQ\"}]},"
                         "{\"names\":[\"kill\",\"tkill\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,"
                         "\"args\":[{\"index\":1,\"value\":20,\"op\":\"SCMP_CMP_GE\"},"
                         "{\"index\":1,\"value\":25,\"op\":\"SCMP_CMP_LE\"}]},"
                         "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
                         "\"args\":[{\"index\":0,\"value\":4294967295,\"valueTwo\":8,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
                         "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_TRAP\","
                         "\"args\":[{\"index\":0,\"value\":11,\"op\":\"SCMP_CMP_NE\"}]},"
                         "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_KILL_PROCESS\","
                         "\"args\":[{\"index\":0,\"value\":26,\"op\":\"SCMP_CMP_GT\"}]},"
                         "{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
                         "\"args\":[{\"index\":1,\"value\":10,\"op\":\"SCMP_CMP_LT\"}]},"
                         "{\"names\":[\"no_such_syscall\"],\"action\":\"SCMP_ACT_KILL\"},"
                         "{\"names\":[");
    for (size_t i = 0; i < sizeof syscall_table / sizeof *syscall_table; i++) {
        /* mkdir and mkdirat left to the default, as a test of the gaps. */
        if (!strcmp(syscall_table[i].name, "mkdir") || !strcmp(syscall_table[i].name, "mkdirat")) continue;
        len += (size_t)snprintf(json + len, room - len, "%s\"%s\"", len && json[len - 1] == '[' ? "" : ",",
                                syscall_table[i].name);
    }
    len += (size_t)snprintf(json + len, room - len, "],\"action\":\"SCMP_ACT_ALLOW\"}]}");
    CHECK(len < room);
    check_profile(json);
    free(json);
}

static void test_small_profiles(void)
{
    check_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
    check_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}");
    check_profile("{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":[{\"names\":[\"read\",\"write\",\"exit\","
                  "\"exit_group\",\"rt_sigreturn\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
}

int main(void)
{
    test_small_profiles();
    test_docker_sized_profile();
    return checks_done("seccomp compiler");
}
