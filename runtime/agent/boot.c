/* Bringing the guest up: filesystems, modules, a pivotable root, device
 * links, the shared folder; and taking it down. */
#include "agent.h"
#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void mount_or_log(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    mkdir_p(dst, 0755);
    if (mount(src, dst, type, flags, data) != 0) {
        log_msg("mount %s on %s: %s", type ? type : src, dst, strerror(errno));
    }
}

static void setup_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        dup2(fd, i);
    }
    if (fd > 2) {
        close(fd);
    }
}

/* Loads the modules of /lib/modules/load.list in order (the build script
 * sorted them after their dependencies). */
static void load_modules(void)
{
    FILE *f = fopen("/lib/modules/load.list", "r");
    if (!f) {
        return;
    }
    char name[256];
    while (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\r\n")] = '\0';
        if (!name[0]) {
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, "/lib/modules/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_msg("module %s: %s", name, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
            log_msg("load %s: %s", name, strerror(errno));
        }
        close(fd);
    }
    fclose(f);
}

/* Copies a tree of directories, regular files and symlinks. */
static void copy_tree(const char *src, const char *dst)
{
    struct stat st;
    if (lstat(src, &st) != 0) {
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            (void)!symlink(target, dst);
        }
    } else if (S_ISDIR(st.st_mode)) {
        mkdir(dst, st.st_mode & 07777);
        DIR *dir = opendir(src);
        if (!dir) {
            return;
        }
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
                continue;
            }
            char s[4096], t[4096];
            snprintf(s, sizeof s, "%s/%s", src, e->d_name);
            snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
            copy_tree(s, t);
        }
        closedir(dir);
    } else if (S_ISREG(st.st_mode)) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
        char buf[65536];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
            (void)!write(out, buf, (size_t)n);
        }
        if (in >= 0) close(in);
        if (out >= 0) close(out);
    }
}

/* Removes a tree without crossing into other filesystems. */
static void remove_tree(const char *path, dev_t dev)
{
    struct stat st;
    if (lstat(path, &st) != 0 || st.st_dev != dev) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (dir) {
            struct dirent *e;
            while ((e = readdir(dir))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
                    continue;
                }
                char s[4096];
                snprintf(s, sizeof s, "%s/%s", path, e->d_name);
                remove_tree(s, dev);
            }
            closedir(dir);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* pivot_root(2) refuses the initramfs (rootfs has no parent mount), and
 * containers need it, so the guest moves onto a tmpfs root like
 * switch_root does, freeing the initramfs copy. */
static void switch_to_tmpfs_root(void)
{
    const char *nr = "/newroot";
    mount_or_log("tmpfs", nr, "tmpfs", MS_NOSUID, "mode=0755");
    static const char *moved[] = { "proc", "sys", "dev" };
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
        char dst[64];
        snprintf(dst, sizeof dst, "%s/%s", nr, moved[i]);
        mkdir(dst, 0755);
        char src[64];
        snprintf(src, sizeof src, "/%s", moved[i]);
        if (mount(src, dst, NULL, MS_MOVE, NULL) != 0) {
            log_msg("move %s: %s", src, strerror(errno));
        }
    }
    copy_tree("/bin", "/newroot/bin");
    copy_tree("/etc", "/newroot/etc");
    mkdir("/newroot/tmp", 01777);
    mkdir("/newroot/run", 0755);
    mkdir("/newroot/root", 0700);

    struct stat root;
    if (stat("/", &root) == 0) {
        DIR *dir = opendir("/");
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "newroot")) {
                continue;
            }
            char s[300];
            snprintf(s, sizeof s, "/%s", e->d_name);
            remove_tree(s, root.st_dev);
        }
        if (dir) closedir(dir);
    }
    if (chdir(nr) != 0 || mount(nr, "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) {
        log_msg("switch to tmpfs root: %s", strerror(errno));
    }
}

/* No udev in the guest: make /dev/virtio-ports/<name> links ourselves. */
static int link_virtio_ports(void)
{
    int found_agent = 0;
    DIR *dir = opendir("/sys/class/virtio-ports");
    if (!dir) {
        return 0;
    }
    mkdir("/dev/virtio-ports", 0755);
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, "vport", 5) != 0) {
            continue;
        }
        char path[512], name[256];
        snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        ssize_t n = read(fd, name, sizeof name - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (!name[0] || strchr(name, '/')) {
            continue;
        }
        char link[512], target[300];
        snprintf(link, sizeof link, "/dev/virtio-ports/%s", name);
        snprintf(target, sizeof target, "../%s", e->d_name);
        unlink(link);
        if (symlink(target, link) == 0 && !strcmp(name, AGENT_PORT_NAME)) {
            struct stat st;
            snprintf(path, sizeof path, "/dev/%s", e->d_name);
            found_agent = stat(path, &st) == 0;
        }
    }
    closedir(dir);
    return found_agent;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The balloon reports free blocks of 2 MiB and up (pageblock order) by default, which leaves the
 * ~5 MiB the kernel frees after boot (its init sections and padding, the initramfs image) in the
 * host: those are touched, and scattered in smaller blocks. From 32 KiB up, they go back too.
 * Written after the balloon driver registered (registration resets it); absent without one. */
static void report_small_free_blocks(void)
{
    const char *path = "/sys/module/page_reporting/parameters/page_reporting_order";
    if (write_text(path, "3") != 0 && errno != ENOENT) {
        log_msg("%s: %s", path, strerror(errno));
    }
}

void boot_system(void)
{
    mount_or_log("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    setup_console();
    mount_or_log("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_log("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    load_modules();
    report_small_free_blocks();
    switch_to_tmpfs_root();
    mount_or_log("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    mount_or_log("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620");
    mount_or_log("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    /* favordynmods: a process moved into a cgroup (every container's init) does not wait for an
     * RCU grace period, tens of ms in a guest under TCG; fork and exit pay a little instead. */
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "favordynmods") != 0) {
        mount_or_log("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    cgroup_init();
    sethostname("vmrt", 4);
    /* Every container has lo up (Docker's and a pod's network namespaces do; the containers of
     * a VM talk over it): up once here, before a template is saved, not in each create. */
    loopback_up();

    /* The virtio-serial ports appear asynchronously after the driver probed. */
    for (int i = 0; i < 500 && !link_virtio_ports(); i++) {
        sleep_ms(10);
    }
}

/* Mounted once the host connects, not at boot: a VM template is saved before any host
 * connects, and QEMU cannot save a VM whose 9p share is mounted. virtio-fs when the host
 * serves it (sockets and FIFOs keep their inode), else 9p. */
void mount_shared_folder(void)
{
    static int mounted;
    if (mounted) {
        return;
    }
    mounted = 1;
    /* virtio-fs when the host serves it, else 9p: msize at the virtio transport's most (the
     * kernel clamps more to 512000; twice the reads of 262144 per round trip), cache=mmap for
     * MAP_SHARED writes (cache=none refuses them with EINVAL; virtio-fs and runc take them),
     * otherwise uncached like none, so what the host changes shows at once (cache=loose does
     * not, and its 4 KiB page writes made a 128 MiB write 20x slower). */
    mkdir_p(SHARED_DIR, 0755);
    if (mount("vmrt", SHARED_DIR, "virtiofs", 0, NULL) != 0) {
        mount_or_log("vmrt", SHARED_DIR, "9p", 0, "trans=virtio,version=9p2000.L,msize=512000,cache=mmap");
    }
}

/* Opens the agent port, waiting for it to appear if needed. */
int open_agent_port(void)
{
    const char *path = "/dev/virtio-ports/" AGENT_PORT_NAME;
    for (int i = 0;; i++) {
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            return fd;
        }
        if (i % 500 == 0) {
            log_msg("waiting for %s: %s", path, strerror(errno));
        }
        link_virtio_ports();
        sleep_ms(10);
    }
}

void power_off(void)
{
    kill(-1, SIGKILL);
    sync();
    reboot(RB_POWER_OFF);
    /* Without ACPI power-off, a reboot ends QEMU too (-no-reboot). */
    reboot(RB_AUTOBOOT);
    for (;;) {
        pause();
    }
}
