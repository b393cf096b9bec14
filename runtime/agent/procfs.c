/* Reading /proc: the processes of a container, for ps and signal --all. */
#include "agent.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ino_t pidns_inode(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

void for_each_container_pid(pid_t init_pid, const char *id, int shared_pidns, pid_visitor visit, void *arg)
{
    if (shared_pidns) {
        cgroup_for_each_pid(id, visit, arg);
        return;
    }
    ino_t ns = pidns_inode(init_pid);
    if (!ns) {
        return;
    }
    DIR *dir = opendir("/proc");
    if (!dir) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!isdigit((unsigned char)e->d_name[0])) {
            continue;
        }
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pidns_inode(pid) == ns) {
            visit(pid, arg);
        }
    }
    closedir(dir);
}

static void ps_one(pid_t pid, void *arg)
{
    struct json_builder *jb = arg;
    char path[64], stat[1024], status[4096], cmd[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, stat, sizeof stat) <= 0) {
        return;
    }
    /* pid (comm) state ppid ...: comm may hold spaces and parentheses. */
    char *close_paren = strrchr(stat, ')');
    char *open_paren = strchr(stat, '(');
    if (!close_paren || !open_paren) {
        return;
    }
    char state = 'R';
    int ppid = 0;
    sscanf(close_paren + 1, " %c %d", &state, &ppid);

    int uid = 0, nspid = (int)pid;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_file(path, status, sizeof status) > 0) {
        char *u = strstr(status, "\nUid:");
        if (u) uid = atoi(u + 5);
        /* NSpid: the pid in each nested namespace, innermost (the container's) last. */
        char *ns = strstr(status, "\nNSpid:");
        if (ns) {
            char *end = strchr(ns + 1, '\n');
            char *last = ns + 7;
            for (char *c = last; *c && c != end; c++) {
                if ((*c == ' ' || *c == '\t') && isdigit((unsigned char)c[1])) last = c + 1;
            }
            nspid = atoi(last);
        }
    }

    json_obj_begin(jb);
    json_key(jb, "pid");
    json_int(jb, pid);
    json_key(jb, "nspid");
    json_int(jb, nspid);
    json_key(jb, "ppid");
    json_int(jb, ppid);
    json_key(jb, "uid");
    json_int(jb, uid);
    json_key(jb, "state");
    json_strn(jb, &state, 1);
    json_key(jb, "cmd");
    json_arr_begin(jb);
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    ssize_t n = read_file(path, cmd, sizeof cmd);
    if (n > 0) {
        for (ssize_t off = 0; off < n;) {
            size_t len = strnlen(cmd + off, (size_t)(n - off));
            json_strn(jb, cmd + off, len);
            off += (ssize_t)len + 1;
        }
    } else {
        /* Kernel threads and zombies: the name from stat, as ps shows it. */
        json_strn(jb, open_paren + 1, (size_t)(close_paren - open_paren - 1));
    }
    json_arr_end(jb);
    json_obj_end(jb);
}

void write_ps(struct json_builder *jb, pid_t init_pid, const char *id, int shared_pidns)
{
    json_arr_begin(jb);
    for_each_container_pid(init_pid, id, shared_pidns, ps_one, jb);
    json_arr_end(jb);
}
