/*
 * Persona's forker, in C: the root process that starts processes as OS accounts for one application pool's worker
 * (MODEL.md §8). It replaced a Perl forker (libexec/persona-forker.pl, since removed) with the same options, limits,
 * checks, refusal statuses and reason texts; the protocol below is the reference, src/identity/forker-protocol.ts
 * its worker side.
 *
 * Why C: forking the Perl interpreter (page-table copy, copy-on-write faults, tearing its address space down at exec)
 * costs more than a millisecond on each side per process. Here a child is started with clone(CLONE_VM | CLONE_VFORK)
 * on a stack of its own, as glibc's posix_spawn does: nothing is copied, and the forker waits only until the child has
 * exec'd (or failed). Between clone and exec the child shares our memory, so it only makes async-signal-safe calls,
 * allocates nothing, and writes only to buffers prepared for it before the clone; the forker installs no signal handler
 * (SIGCHLD arrives through a signalfd) so no handler can run on the child's stack.
 *
 * Trust: only the pool's current worker may connect (SO_PEERCRED pid, told by the launcher on stdin), and everything
 * it sends is still hostile: bounded reads, checked lengths, absolute paths, valid names, never uid 0, another account
 * only with replaceProcessToken. Before exec the child checks /proc/self/status: all uids, all gids, the groups and no
 * capabilities, or it does not run the program.
 *
 * Protocol (all from the worker, over the forker's socket; the Perl forker's, plus SPAWN and the relayed stdout):
 *   control connection: "PCTL" + uint32 0. Forker -> worker lines (fields %XX-escaped):
 *     HELLO <pool>                               ready; spawns may be sent
 *     STARTED <id> <pid> <uid> <gid> <groups,> <name> <home>
 *     REFUSED <id> <status> <substatus> <reason>
 *     STDERR <id> <length>\n<bytes>              what the process wrote to stderr
 *     STDERREND <id>
 *     STDOUT <id> <length>\n<bytes>              what a SPAWN process wrote to stdout (relayed, see below)
 *     STDOUTEND <id>                             its stdout is at its end (every holder closed it), or was dropped
 *     EXIT <id> <code|-> <signal number|->
 *   worker -> forker lines: KILL <id> <SIGNAME>  (the process's group; also for a while after the leader exited)
 *     SPAWN <length>\n<header>   a spawn on the control connection itself: <header> is a spawn request's fields
 *                                (as after PSPN's prefix); stdin is /dev/null and stdout a pipe the forker relays as
 *                                STDOUT messages, so a process with nothing to read costs no connection at all
 *     PAUSE <id> / RESUME <id>   stop and restart reading a SPAWN process's stdout (the worker's reader is full):
 *                                the program blocks on a full pipe, nothing piles up here
 *     DROP <id>                  the worker no longer wants that stdout: it is closed (the program's next write
 *                                fails with EPIPE, as on a closed connection) and STDOUTEND follows
 *   spawn connection: "PSPN" + uint32 length + fields joined by NUL: id, account, file, cwd, purpose, argc, args...,
 *     envc, NAME=VALUE...; then the connection is the process's stdout.
 *   input connection, opened right after it: "PSIN" + uint32 id; then it is the process's stdin.
 * Launcher -> forker (stdin): "worker <pid>" (0: none; the previous worker's processes are killed); EOF: exit.
 * Forker -> launcher (stdout): tab-separated events for its log (refusals, invalid requests, refused connections).
 * Numbers are big-endian.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The limits of the Perl forker (and of src/identity/forker-protocol.ts). */
#define MAX_ID ((uint64_t)1 << 31)
#define MAX_PATH_BYTES 4096
#define MAX_STRING_BYTES (128 * 1024)
#define MAX_ARGS 4096
#define MAX_ENV 4096
#define MAX_TOTAL_BYTES (1024 * 1024)
#define MAX_PURPOSE_BYTES 1024
#define MAX_HEADER (1024 * 1024 + 64 * 1024 + 2 * 4096 + 8192)
#define HEADER_TIMEOUT_MS 5000
#define EXITED_GROUP_SECONDS (15 * 60)
#define MAX_EXITED_GROUPS 256
#define ACCOUNT_CACHE_SECONDS 5
#define ACCOUNT_CACHE_MAX 1000
#define CONTROL_BUFFER_LIMIT (1024 * 1024)
#define CONTROL_LINE_LIMIT 4096
#define OUTPUT_CHUNK 65536
#define CONTROL_READ_CHUNK 65536
#define STATUS_REPORT_MAX 16384
#define LAUNCHER_LINE_LIMIT 65536
#define CHILD_STACK_SIZE (256 * 1024)
#define CHILD_MESSAGE_MAX 16384

static const char *const KILLABLE[] = {"HUP", "INT", "QUIT", "KILL", "TERM", "USR1", "USR2", "CONT", "STOP", "TSTP", "ALRM"};
static const int KILLABLE_NUMBER[] = {SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGSTOP, SIGTSTP, SIGALRM};

/* ---- small helpers ---------------------------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t start; /* bytes before start are already consumed (control output) */
    size_t len;   /* end of valid data */
    size_t cap;
} buffer;

static void out_of_memory(void) {
    static const char text[] = "persona-forker: out of memory\n";
    (void)!write(2, text, sizeof text - 1);
    _exit(70);
}

static void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory();
    return p;
}

static void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory();
    return p;
}

static char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) out_of_memory();
    return p;
}

static void buffer_reserve(buffer *b, size_t more) {
    if (b->start > 0 && b->start == b->len) b->start = b->len = 0;
    if (more <= b->cap - b->len) return;
    if (b->start > 0) { /* reclaim what was consumed before growing */
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
        if (more <= b->cap - b->len) return;
    }
    if (more > SIZE_MAX / 2 - b->len) out_of_memory();
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) out_of_memory();
    b->data = data;
    b->cap = cap;
}

/* Appends, and keeps a NUL after the end: a buffer of text is also a C string. */
static void buffer_add(buffer *b, const void *bytes, size_t n) {
    buffer_reserve(b, n + 1);
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buffer_str(buffer *b, const char *s) { buffer_add(b, s, strlen(s)); }

static void buffer_printf(buffer *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void buffer_printf(buffer *b, const char *format, ...) {
    /* Formatted into a small buffer first: most lines fit, and only a longer one is formatted twice. */
    char small[512];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(small, sizeof small, format, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        buffer_add(b, small, (size_t)n);
        return;
    }
    buffer_reserve(b, (size_t)n + 1);
    va_start(ap, format);
    vsnprintf(b->data + b->len, (size_t)n + 1, format, ap); /* NUL-terminated, as buffer_add leaves it */
    va_end(ap);
    b->len += (size_t)n;
}

/* The Perl forker's escape(): "%", whitespace and control characters as %XX (uppercase). */
static void buffer_escaped(buffer *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' || c == ' ' || c < 0x20 || c == 0x7f) {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buffer_add(b, e, 3);
        } else {
            buffer_add(b, &c, 1);
        }
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The text of errno as Perl's "$!" prints it in the C locale (strerrordesc_np: untranslated, no allocation). */
static const char *error_text(int error) {
    const char *text = strerrordesc_np(error);
    return text ? text : "Unknown error";
}

/* Digits only, at most max_digits of them, as a number (no sign, no spaces). */
static bool parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *value) {
    if (n == 0 || n > max_digits) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *value = v;
    return true;
}

/* ---- options and state ------------------------------------------------------------------------------------------ */

static struct {
    const char *socket, *group, *pool, *pool_account, *replace_process_token, *max_live;
} opt;
static gid_t socket_group;
static uint64_t max_live = 256;
static bool replace_process_token;

typedef struct {
    uint64_t id;
    pid_t pid;
    int status_fd; /* -1 once read */
    int stderr_fd; /* -1 once at its end */
    int stdout_fd; /* a SPAWN process's stdout, relayed; -1 for a spawn connection's process, or once at its end */
    uid_t uid; /* the account's: kills are sent with it */
    bool starting, exited, exit_sent, stdout_paused;
    char exit_text[32]; /* "<code|-> <signal|->" */
    char *account_name, *started, *purpose;
} child_t;

static child_t *children;
static size_t child_count, child_cap;

static struct {
    uint64_t id;
    pid_t pgid;
    uid_t uid;
    double time;
} exited_groups[MAX_EXITED_GROUPS];
static size_t exited_next, exited_used; /* a ring, oldest overwritten */

typedef struct {
    char *key;
    double time;
    bool found;
    char *reason;
    char *name, *home, *started;
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* primary first, then the others, each once: what `id -G` prints */
    size_t ngroups;
    gid_t *sorted; /* the same set, sorted, for the child's check */
} account_t;

static account_t *accounts;
static size_t account_count, account_cap;

static int listener = -1, control = -1, signal_fd = -1;
/* After a "SPAWN <length>" line: the header bytes still to come on the control connection (0: reading lines). */
static size_t control_payload;
/* While the control backlog is over its limit no output (stderr, relayed stdout) is read; reading resumes once it is
   down to half. */
static bool output_paused;
static int64_t worker_pid;
static buffer control_in, control_out, launcher_in;

/* The child's stack and its buffers: allocated once, used only while the forker waits for the child (CLONE_VFORK). */
static char *child_stack;
static char child_message[CHILD_MESSAGE_MAX];
static char *proc_status;
static size_t proc_status_cap;
static unsigned char *group_seen;
static size_t group_seen_cap;

/* ---- events (to the launcher) and control messages (to the worker) --------------------------------------------- */

static void event(const char *kind, size_t count, ...) {
    buffer line = {0};
    buffer_str(&line, "event\t");
    buffer_str(&line, kind);
    va_list ap;
    va_start(ap, count);
    for (size_t i = 0; i < count; i++) {
        const char *field = va_arg(ap, const char *);
        buffer_str(&line, "\t");
        if (!field) continue;
        /* Runs of tab, CR and LF become one space: one event per line, one field per tab. */
        bool in_run = false;
        for (const char *p = field; *p; p++) {
            if (*p == '\t' || *p == '\r' || *p == '\n') {
                if (!in_run) buffer_add(&line, " ", 1);
                in_run = true;
            } else {
                buffer_add(&line, p, 1);
                in_run = false;
            }
        }
    }
    va_end(ap);
    buffer_add(&line, "\n", 1);
    size_t done = 0;
    while (done < line.len) {
        ssize_t n = write(1, line.data + done, line.len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    free(line.data);
}

static void send_control(const buffer *line, const void *bytes, size_t n) {
    if (control < 0) return;
    buffer_add(&control_out, line->data, line->len);
    buffer_add(&control_out, "\n", 1);
    if (n) buffer_add(&control_out, bytes, n);
}

static size_t control_pending(void) { return control_out.len - control_out.start; }

static void refuse(uint64_t id, bool has_id, int status, int substatus, const char *reason, const char *purpose, const char *account) {
    event("refused", 4, opt.pool, purpose ? purpose : "", account ? account : "", reason);
    if (!has_id) return;
    buffer line = {0};
    buffer_printf(&line, "REFUSED %llu %d %d ", (unsigned long long)id, status, substatus);
    buffer_escaped(&line, reason, strlen(reason));
    send_control(&line, NULL, 0);
    free(line.data);
}

/* ---- children --------------------------------------------------------------------------------------------------- */

static child_t *find_child(uint64_t id) {
    for (size_t i = 0; i < child_count; i++)
        if (children[i].id == id) return &children[i];
    return NULL;
}

typedef struct {
    uid_t uid;
    int signal;
    const pid_t *pgids;
    size_t count;
} kill_args;

/* Between clone and _exit, sharing the forker's memory: raw setresuid, kill, nothing else. */
static int kill_child_main(void *arg) {
    const kill_args *k = arg;
    if (syscall(SYS_setresuid, (long)k->uid, (long)k->uid, (long)k->uid) != 0) _exit(1);
    for (size_t i = 0; i < k->count; i++) kill(-k->pgids[i], k->signal);
    _exit(0);
}

/* Signals are sent with the account's own uid, from a child of ours: once a group is gone its id (a pid) can be reused
   by any process, and root's kill() would reach it; the account's reaches only the account's own processes. Only
   groups that still have a member cost a child (signal 0 tests, it sends nothing). `pgids` is reordered. */
static void kill_groups(uid_t uid, int signal, pid_t *pgids, size_t count) {
    size_t live = 0;
    for (size_t i = 0; i < count; i++)
        if (pgids[i] > 1 && kill(-pgids[i], 0) == 0) pgids[live++] = pgids[i];
    if (live == 0 || uid == 0) return;
    kill_args k = {uid, signal, pgids, live};
    /* Reaped by reap() like any child; it is no process of the worker's, so nothing is reported. */
    clone(kill_child_main, child_stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &k);
}

static void forget_child(uint64_t id) {
    child_t *c = find_child(id);
    if (!c) return;
    if (c->status_fd >= 0) close(c->status_fd);
    if (c->stderr_fd >= 0) close(c->stderr_fd);
    if (c->stdout_fd >= 0) close(c->stdout_fd);
    free(c->account_name);
    free(c->started);
    free(c->purpose);
    *c = children[--child_count];
}

/* Every process of the worker is killed when its control connection goes: the worker is gone or starts over. */
static void drop_control(void) {
    if (control < 0) return;
    close(control);
    control = -1;
    control_in.start = control_in.len = 0;
    control_out.start = control_out.len = 0;
    output_paused = false;
    control_payload = 0;
    /* The groups of the live and the exited processes, killed account by account. */
    size_t count = child_count + exited_used;
    uid_t *uids = xcalloc(count, sizeof *uids);
    pid_t *pgids = xcalloc(count, sizeof *pgids), *batch = xcalloc(count, sizeof *batch);
    for (size_t i = 0; i < child_count; i++) uids[i] = children[i].uid, pgids[i] = children[i].pid;
    for (size_t i = 0; i < exited_used; i++) uids[child_count + i] = exited_groups[i].uid, pgids[child_count + i] = exited_groups[i].pgid;
    for (size_t i = 0; i < count; i++) {
        if (pgids[i] == 0) continue;
        size_t n = 0;
        for (size_t j = i; j < count; j++)
            if (pgids[j] != 0 && uids[j] == uids[i]) batch[n++] = pgids[j], pgids[j] = 0;
        kill_groups(uids[i], SIGKILL, batch, n);
    }
    free(uids);
    free(pgids);
    free(batch);
    while (child_count > 0) forget_child(children[0].id);
    exited_used = exited_next = 0;
}

static void finish_child(uint64_t id) {
    child_t *c = find_child(id);
    if (c && c->exit_sent && c->stderr_fd < 0 && c->stdout_fd < 0) forget_child(id);
}

/* The end of a process's stderr or relayed stdout (read to its end, an error, or dropped by the worker). */
static void close_output(child_t *c, bool is_stdout) {
    int *fd = is_stdout ? &c->stdout_fd : &c->stderr_fd;
    if (*fd < 0) return;
    close(*fd);
    *fd = -1;
    buffer line = {0};
    buffer_printf(&line, "%s %llu", is_stdout ? "STDOUTEND" : "STDERREND", (unsigned long long)c->id);
    send_control(&line, NULL, 0);
    free(line.data);
    finish_child(c->id);
}

static void report_exit(uint64_t id) {
    child_t *c = find_child(id);
    if (!c || c->exit_sent) return;
    buffer line = {0};
    buffer_printf(&line, "EXIT %llu %s", (unsigned long long)id, c->exit_text);
    send_control(&line, NULL, 0);
    free(line.data);
    c->exit_sent = true;
    exited_groups[exited_next].id = id;
    exited_groups[exited_next].pgid = c->pid;
    exited_groups[exited_next].uid = c->uid;
    exited_groups[exited_next].time = now_seconds();
    exited_next = (exited_next + 1) % MAX_EXITED_GROUPS;
    if (exited_used < MAX_EXITED_GROUPS) exited_used++;
    finish_child(id);
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        child_t *c = NULL;
        for (size_t i = 0; i < child_count; i++)
            if (children[i].pid == pid && !children[i].exited) c = &children[i];
        if (!c) continue; /* forgotten already (refused at start, or its worker gone) */
        c->exited = true;
        /* The signal goes as its number: the worker names it (os.constants.signals). */
        if (WIFSIGNALED(status)) snprintf(c->exit_text, sizeof c->exit_text, "- %d", WTERMSIG(status));
        else snprintf(c->exit_text, sizeof c->exit_text, "%d -", WEXITSTATUS(status));
        if (!c->starting) report_exit(c->id);
    }
}

/* The status pipe: empty at its end when exec succeeded (close-on-exec), else "<500|502>\0reason". */
static void status_input(uint64_t id) {
    child_t *c = find_child(id);
    if (!c || c->status_fd < 0) return;
    char report[STATUS_REPORT_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(c->status_fd, report + len, STATUS_REPORT_MAX - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == STATUS_REPORT_MAX) break;
    }
    report[len] = '\0';
    close(c->status_fd);
    c->status_fd = -1;
    if (len == 0) {
        buffer line = {0};
        buffer_printf(&line, "STARTED %llu %d %s", (unsigned long long)id, (int)c->pid, c->started);
        send_control(&line, NULL, 0);
        free(line.data);
        c->starting = false;
        if (c->exited) report_exit(id);
        return;
    }
    const char *nul = memchr(report, '\0', len);
    int status = 500;
    if (nul && nul - report == 3 && memcmp(report, "502", 3) == 0) status = 502;
    const char *reason = nul ? nul + 1 : "unknown";
    buffer text = {0};
    buffer_printf(&text, "could not start %s as %s: ", c->purpose, c->account_name);
    buffer_add(&text, reason, nul ? len - (size_t)(nul + 1 - report) : strlen(reason));
    buffer_add(&text, "", 1);
    event("refused", 4, opt.pool, c->purpose, c->account_name, text.data);
    buffer line = {0};
    buffer_printf(&line, "REFUSED %llu %d %d ", (unsigned long long)id, status, status == 502 ? 2 : 0);
    buffer_escaped(&line, text.data, text.len - 1);
    send_control(&line, NULL, 0);
    free(line.data);
    free(text.data);
    forget_child(id);
}

/* One read of a process's stderr or relayed stdout, sent as <kind> (STDERR, STDOUT); at its end <kind>END. */
static void output_input(uint64_t id, bool is_stdout) {
    child_t *c = find_child(id);
    int *fd = c ? (is_stdout ? &c->stdout_fd : &c->stderr_fd) : NULL;
    if (!fd || *fd < 0) return;
    const char *kind = is_stdout ? "STDOUT" : "STDERR";
    static char data[OUTPUT_CHUNK];
    ssize_t n = read(*fd, data, sizeof data);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) {
        buffer line = {0};
        buffer_printf(&line, "%s %llu %zd", kind, (unsigned long long)id, n);
        send_control(&line, data, (size_t)n);
        free(line.data);
        /* A worker that does not read its control connection holds back all output: the programs block, nothing
           piles up. */
        if (control_pending() > CONTROL_BUFFER_LIMIT) output_paused = true;
        return;
    }
    close_output(c, is_stdout);
}

/* ---- accounts --------------------------------------------------------------------------------------------------- */

static void account_free(account_t *a) {
    free(a->key);
    free(a->reason);
    free(a->name);
    free(a->home);
    free(a->started);
    free(a->groups);
    free(a->sorted);
}

static int compare_gid(const void *a, const void *b) {
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
    return x < y ? -1 : x > y;
}

/* uid, gid and home from getpwnam_r; the groups as `id -G` lists them (the primary one, then getgrouplist's others,
   each once). Cached briefly, as the Node side's lookupOsAccount. */
static account_t *lookup_account(const char *name) {
    double now = now_seconds();
    for (size_t i = 0; i < account_count; i++)
        if (strcmp(accounts[i].key, name) == 0) {
            if (now - accounts[i].time < ACCOUNT_CACHE_SECONDS) return &accounts[i];
            account_free(&accounts[i]);
            accounts[i] = accounts[--account_count];
            break;
        }
    if (account_count > ACCOUNT_CACHE_MAX) {
        for (size_t i = 0; i < account_count; i++) account_free(&accounts[i]);
        account_count = 0;
    }
    if (account_count == account_cap) {
        account_cap = account_cap ? account_cap * 2 : 16;
        accounts = realloc(accounts, account_cap * sizeof *accounts);
        if (!accounts) out_of_memory();
    }
    account_t *a = &accounts[account_count++];
    memset(a, 0, sizeof *a);
    a->key = xstrdup(name);
    a->time = now;

    struct passwd pw, *found = NULL;
    size_t size = 16384;
    char *scratch = NULL;
    for (;;) {
        scratch = xmalloc(size);
        int error = getpwnam_r(name, &pw, scratch, size, &found);
        if (error != ERANGE || size >= (1u << 24)) break;
        free(scratch);
        size *= 4;
    }
    if (!found) {
        buffer why = {0};
        buffer_printf(&why, "OS account \"%s\" is unknown to NSS (getent passwd)", name);
        buffer_add(&why, "", 1);
        a->reason = why.data;
        free(scratch);
        return a;
    }
    a->found = true;
    a->name = xstrdup(pw.pw_name);
    a->home = xstrdup(pw.pw_dir ? pw.pw_dir : "/");
    a->uid = pw.pw_uid;
    a->gid = pw.pw_gid;
    free(scratch);

    /* getgrouplist says how many there are when the list is too short; an account in more than NGROUPS_MAX groups
       cannot have them all anyway (setgroups would fail), so it gets only its primary group, as `id -G` failing would. */
    int count = 64, filled = 0;
    gid_t *list = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        free(list);
        list = xcalloc((size_t)count, sizeof *list);
        int asked = count;
        if (getgrouplist(a->name, a->gid, list, &count) >= 0) {
            filled = count < asked ? count : asked;
            break;
        }
        count = count > asked && count <= 65537 ? count : (asked < 65537 ? asked * 2 : asked);
    }
    a->groups = xcalloc((size_t)filled + 1, sizeof *a->groups);
    a->groups[a->ngroups++] = a->gid;
    for (int i = 0; i < filled; i++) {
        bool seen = false;
        for (size_t j = 0; j < a->ngroups && !seen; j++) seen = a->groups[j] == list[i];
        if (!seen) a->groups[a->ngroups++] = list[i];
    }
    free(list);
    a->sorted = xcalloc(a->ngroups, sizeof *a->sorted);
    memcpy(a->sorted, a->groups, a->ngroups * sizeof *a->sorted);
    qsort(a->sorted, a->ngroups, sizeof *a->sorted, compare_gid);

    buffer started = {0};
    buffer_printf(&started, "%u %u ", (unsigned)a->uid, (unsigned)a->gid);
    for (size_t i = 0; i < a->ngroups; i++) buffer_printf(&started, "%s%u", i ? "," : "", (unsigned)a->groups[i]);
    buffer_add(&started, " ", 1);
    buffer_escaped(&started, a->name, strlen(a->name));
    buffer_add(&started, " ", 1);
    buffer_escaped(&started, a->home, strlen(a->home));
    buffer_add(&started, "", 1);
    a->started = started.data;
    return a;
}

/* ---- the child, between clone and exec ---------------------------------------------------------------------------
 * It shares the forker's memory and runs on child_stack: async-signal-safe calls only, raw syscalls for the identity
 * switch (no glibc setxid broadcast), no allocation, output only into child_message, proc_status and group_seen. */

typedef struct {
    int input, connection, err_w, status_w;
    uid_t uid;
    gid_t gid;
    const gid_t *groups, *sorted;
    size_t ngroups;
    const char *name, *file, *cwd;
    char *const *argv;
    char *const *envp;
} spawn_args;

typedef struct {
    size_t len;
} message_t;

static void m_add(message_t *m, const char *s, size_t n) {
    if (n > CHILD_MESSAGE_MAX - m->len) n = CHILD_MESSAGE_MAX - m->len;
    for (size_t i = 0; i < n; i++) child_message[m->len + i] = s[i];
    m->len += n;
}

/* A literal, embedded NULs included. */
#define M_LIT(m, literal) m_add((m), (literal), sizeof(literal) - 1)

static void m_str(message_t *m, const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    m_add(m, s, n);
}

static void m_uint(message_t *m, unsigned long long v) {
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    m_add(m, digits + n, sizeof digits - n);
}

static void m_error(message_t *m, int error) {
    const char *text = strerrordesc_np(error);
    if (text) m_str(m, text);
    else {
        m_str(m, "Unknown error ");
        m_uint(m, (unsigned)error);
    }
}

static _Noreturn void child_fail(const spawn_args *a, message_t *m) {
    ssize_t ignored = write(a->status_w, child_message, m->len);
    (void)ignored;
    _exit(127);
}

static _Noreturn void child_fail_errno(const spawn_args *a, const char *status_and_text, size_t prefix_len, int error) {
    message_t m = {0};
    m_add(&m, status_and_text, prefix_len);
    m_error(&m, error);
    child_fail(a, &m);
}

/* One line of /proc/self/status: the value after "Key:", trimmed of spaces and tabs at both ends. */
static bool status_field(const char *text, size_t len, const char *key, const char **value, size_t *value_len) {
    size_t key_len = 0;
    while (key[key_len]) key_len++;
    bool found = false;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        if (end - i > key_len && memcmp(text + i, key, key_len) == 0 && text[i + key_len] == ':') {
            size_t s = i + key_len + 1, e = end;
            while (s < e && (text[s] == ' ' || text[s] == '\t')) s++;
            while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t')) e--;
            *value = text + s; /* the last one wins, as in the Perl forker's hash */
            *value_len = e - s;
            found = true;
        }
        i = end + 1;
    }
    return found;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Whitespace-separated decimal numbers, each in [0, 2^32): the next one, or false at the end or on anything else. */
static bool next_number(const char **p, const char *end, uint64_t *value, bool *bad) {
    while (*p < end && is_space(**p)) (*p)++;
    if (*p == end) return false;
    const char *s = *p;
    while (*p < end && !is_space(**p)) (*p)++;
    if (!parse_digits(s, (size_t)(*p - s), 10, value) || *value > UINT32_MAX) {
        *bad = true;
        return false;
    }
    return true;
}

/* All four ids equal `want`. */
static bool ids_are(const char *v, size_t n, uint64_t want) {
    const char *p = v, *end = v + n;
    uint64_t value;
    bool bad = false;
    int count = 0;
    while (next_number(&p, end, &value, &bad)) {
        if (value != want || ++count > 4) return false;
    }
    return !bad && count == 4;
}

static bool find_sorted(const gid_t *sorted, size_t n, gid_t g, size_t *at) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] == g) {
            *at = mid;
            return true;
        }
        if (sorted[mid] < g) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* What /proc/self/status says differs from the account: real, effective, saved and filesystem ids, the groups, and any
   capability left. The kernel's word. Appends the problem to m and returns true if there is one. */
static bool identity_problem(const spawn_args *a, message_t *m) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int error = errno;
        m_str(m, "cannot read /proc/self/status: ");
        m_error(m, error);
        return true;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, proc_status + len, proc_status_cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int error = errno;
            close(fd);
            m_str(m, "cannot read /proc/self/status: ");
            m_error(m, error);
            return true;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == proc_status_cap) {
            close(fd);
            m_str(m, "cannot read /proc/self/status: it is larger than expected");
            return true;
        }
    }
    close(fd);
    const char *v;
    size_t n;
    if (!status_field(proc_status, len, "Uid", &v, &n) || !ids_are(v, n, a->uid)) {
        m_str(m, "uids are ");
        if (status_field(proc_status, len, "Uid", &v, &n)) m_add(m, v, n);
        else m_str(m, "?");
        return true;
    }
    if (!status_field(proc_status, len, "Gid", &v, &n) || !ids_are(v, n, a->gid)) {
        m_str(m, "gids are ");
        if (status_field(proc_status, len, "Gid", &v, &n)) m_add(m, v, n);
        else m_str(m, "?");
        return true;
    }
    /* The groups as sets: every listed one is the account's, and every one of the account's is listed. */
    bool has_groups = status_field(proc_status, len, "Groups", &v, &n);
    if (!has_groups) n = 0;
    for (size_t i = 0; i < a->ngroups; i++) group_seen[i] = 0;
    const char *p = has_groups ? v : "", *end = p + n;
    uint64_t value;
    bool bad = false, same = true;
    while (next_number(&p, end, &value, &bad)) {
        size_t at;
        if (find_sorted(a->sorted, a->ngroups, (gid_t)value, &at)) group_seen[at] = 1;
        else same = false;
    }
    for (size_t i = 0; i < a->ngroups; i++)
        if (!group_seen[i]) same = false;
    if (bad || !same) {
        m_str(m, "groups are [");
        if (has_groups) m_add(m, v, n);
        m_str(m, "]");
        return true;
    }
    static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapAmb"};
    for (size_t s = 0; s < 4; s++) {
        bool present = status_field(proc_status, len, sets[s], &v, &n);
        bool zero = present && n > 0;
        for (size_t i = 0; zero && i < n; i++) zero = v[i] == '0';
        if (!zero) {
            m_str(m, sets[s]);
            m_str(m, " is ");
            if (present) m_add(m, v, n);
            else m_str(m, "missing");
            return true;
        }
    }
    return false;
}

static int child_main(void *arg) {
    const spawn_args *a = arg;
    /* SIGPIPE is ignored in the forker and would stay ignored across exec; SIGCHLD is blocked for the signalfd. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    if (setpgid(0, 0) != 0) child_fail_errno(a, "500\0setpgid: ", sizeof "500\0setpgid: " - 1, errno);
    if (dup2(a->input, 0) < 0 || dup2(a->connection, 1) < 0 || dup2(a->err_w, 2) < 0) child_fail_errno(a, "500\0dup2: ", sizeof "500\0dup2: " - 1, errno);
    if (syscall(SYS_setgroups, (long)a->ngroups, a->groups) != 0) child_fail_errno(a, "500\0setgroups: ", sizeof "500\0setgroups: " - 1, errno);
    if (syscall(SYS_setresgid, (long)a->gid, (long)a->gid, (long)a->gid) != 0) {
        int error = errno;
        message_t m = {0};
        M_LIT(&m, "500\0setgid(");
        m_uint(&m, a->gid);
        m_str(&m, "): ");
        m_error(&m, error);
        child_fail(a, &m);
    }
    if (syscall(SYS_setresuid, (long)a->uid, (long)a->uid, (long)a->uid) != 0) {
        int error = errno;
        message_t m = {0};
        M_LIT(&m, "500\0setuid(");
        m_uint(&m, a->uid);
        m_str(&m, "): ");
        m_error(&m, error);
        child_fail(a, &m);
    }
    {
        message_t m = {0};
        M_LIT(&m, "500\0the process is not exactly ");
        m_str(&m, a->name);
        m_str(&m, " before exec: ");
        if (identity_problem(a, &m)) child_fail(a, &m);
    }
    if (chdir(a->cwd) != 0) {
        int error = errno;
        message_t m = {0};
        M_LIT(&m, "502\0cannot enter the working directory ");
        m_str(&m, a->cwd);
        m_str(&m, " as ");
        m_str(&m, a->name);
        m_str(&m, ": ");
        m_error(&m, error);
        child_fail(a, &m);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->file, a->argv, a->envp);
    int error = errno;
    message_t m = {0};
    M_LIT(&m, "502\0exec ");
    m_str(&m, a->file);
    m_str(&m, ": ");
    m_error(&m, error);
    child_fail(a, &m);
}

/* ---- spawn requests --------------------------------------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} field_t;

/* The header's NUL-separated fields, one at a time (the header is NUL-terminated past its end). */
typedef struct {
    const char *at, *end;
    size_t left; /* fields not yet taken */
} fields_t;

static field_t next_field(fields_t *f) {
    field_t r = {f->at, 0};
    const char *nul = memchr(f->at, '\0', (size_t)(f->end - f->at));
    if (!nul) nul = f->end;
    r.len = (size_t)(nul - f->at);
    f->at = nul < f->end ? nul + 1 : f->end;
    f->left--;
    return r;
}

static bool valid_account_name(field_t a) {
    if (a.len == 0) return false;
    size_t n = a.len;
    if (n > 1 && a.p[n - 1] == '$') n--;
    if (n > 32) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a.p[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool other = (c >= '0' && c <= '9') || c == '.' || c == '-';
        if (!(letter || (i > 0 && other))) return false;
    }
    return true;
}

static const char *absolute_path_problem(field_t v) {
    if (v.len == 0 || v.p[0] != '/') return "not an absolute path";
    if (v.len > MAX_PATH_BYTES) return "longer than 4096 bytes";
    return NULL;
}

/* Environment names seen in this request: a hash set, so a hostile request of many entries costs linear time. */
static bool env_name_seen(const char **table, size_t *lengths, size_t mask, const char *name, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    for (size_t slot = (size_t)h & mask;; slot = (slot + 1) & mask) {
        if (!table[slot]) {
            table[slot] = name;
            lengths[slot] = len;
            return false;
        }
        if (lengths[slot] == len && memcmp(table[slot], name, len) == 0) return true;
    }
}

static void start_child(int connection, int input, int *relay, uint64_t id, const account_t *who, field_t file, field_t cwd, const char *purpose, char **argv, char **envp);

static void malformed(uint64_t id, const char *what) {
    buffer reason = {0};
    buffer_printf(&reason, "forker: malformed spawn request: %s", what);
    refuse(id, true, 500, 0, reason.data, NULL, NULL);
    free(reason.data);
}

/* `connection` becomes the process's stdout; for a SPAWN, *relay is the read end of that pipe, taken (set to -1) when
   a process is started. */
/* A request id: decimal, no leading zero, below MAX_ID. */
static bool request_id(field_t f, uint64_t *id) {
    return f.len > 0 && f.p[0] != '0' && parse_digits(f.p, f.len, 10, id) && *id < MAX_ID;
}

static void spawn_request(int connection, int input, int *relay, char *header, size_t length) {
    fields_t f = {header, header + length, 1};
    for (size_t i = 0; i < length; i++) f.left += header[i] == '\0';
    field_t id_field = next_field(&f);
    uint64_t id = 0;
    if (!request_id(id_field, &id)) {
        event("invalid", 2, opt.pool, "a spawn request without a valid id");
        return;
    }
    if (find_child(id)) return malformed(id, "the id is already in use by this worker");
    if (f.left < 5) return malformed(id, "too few fields");
    field_t account = next_field(&f), file = next_field(&f), cwd = next_field(&f), purpose = next_field(&f), argc_field = next_field(&f);
    if (!valid_account_name(account)) return malformed(id, "the account is not a valid account name");
    const char *problem = absolute_path_problem(file);
    buffer text = {0};
    if (problem) {
        buffer_printf(&text, "file: %s", problem);
        malformed(id, text.data);
        free(text.data);
        return;
    }
    if ((problem = absolute_path_problem(cwd))) {
        buffer_printf(&text, "cwd: %s", problem);
        malformed(id, text.data);
        free(text.data);
        return;
    }
    if (purpose.len > MAX_PURPOSE_BYTES) return malformed(id, "the purpose is longer than 1024 bytes");
    uint64_t argc = 0, envc = 0;
    if (!parse_digits(argc_field.p, argc_field.len, 4, &argc) || argc > MAX_ARGS || argc >= f.left)
        return malformed(id, "the argument count is not a number within bounds");
    field_t *args = xcalloc((size_t)argc, sizeof *args);
    for (size_t i = 0; i < argc; i++) args[i] = next_field(&f);
    field_t envc_field = next_field(&f);
    if (!parse_digits(envc_field.p, envc_field.len, 4, &envc) || envc > MAX_ENV || envc != f.left) {
        free(args);
        return malformed(id, "the environment count is not a number within bounds");
    }
    field_t *env = xcalloc((size_t)envc, sizeof *env);
    for (size_t i = 0; i < envc; i++) env[i] = next_field(&f);
    const char *why = NULL;
    char *why_owned = NULL;
    size_t total = file.len;
    for (size_t i = 0; i < argc && !why; i++) {
        if (args[i].len > MAX_STRING_BYTES) why = "an argument is longer than 131072 bytes";
        total += args[i].len + 1;
    }
    size_t mask = 8191; /* more than twice MAX_ENV slots */
    const char **names = xcalloc(mask + 1, sizeof *names);
    size_t *name_lengths = xcalloc(mask + 1, sizeof *name_lengths);
    for (size_t i = 0; i < envc && !why; i++) {
        const char *eq = memchr(env[i].p, '=', env[i].len);
        if (!eq || eq == env[i].p) {
            why = "an environment entry has no name";
            break;
        }
        if (env[i].len > MAX_STRING_BYTES) {
            why = "an environment entry is longer than 131072 bytes";
            break;
        }
        size_t name_len = (size_t)(eq - env[i].p);
        if (env_name_seen(names, name_lengths, mask, env[i].p, name_len)) {
            buffer dup = {0};
            buffer_str(&dup, "the environment variable ");
            buffer_add(&dup, env[i].p, name_len);
            buffer_str(&dup, " is given twice");
            buffer_add(&dup, "", 1);
            why = why_owned = dup.data;
            break;
        }
        total += env[i].len + 1;
    }
    free(names);
    free(name_lengths);
    if (!why && total > MAX_TOTAL_BYTES) why = "arguments and environment exceed 1048576 bytes";
    if (why) {
        malformed(id, why);
        free(why_owned);
        free(args);
        free(env);
        return;
    }

    /* The fields are NUL-terminated in the header itself: the last one by the byte past its end. */
    const char *account_name = account.p, *purpose_text = purpose.p;
    if (child_count >= max_live) {
        buffer_printf(&text, "application pool %s already has %zu processes started by its forker (limit %s)", opt.pool, child_count, opt.max_live);
        refuse(id, true, 503, 2, text.data, purpose_text, account_name);
    } else if (strcmp(account_name, opt.pool_account) != 0 && !replace_process_token) {
        buffer_printf(&text,
                      "application pool %s is not granted replaceProcessToken (IIS: Replace a process level token), so it cannot start CGI as the user: "
                      "%s asked for OS account \"%s\", the pool runs as \"%s\"",
                      opt.pool, purpose_text, account_name, opt.pool_account);
        refuse(id, true, 403, 19, text.data, purpose_text, account_name);
    } else {
        account_t *who = lookup_account(account_name);
        if (!who->found) {
            buffer_printf(&text, "cannot run %s: %s", purpose_text, who->reason);
            refuse(id, true, 500, 0, text.data, purpose_text, account_name);
        } else if (who->uid == 0) {
            buffer_printf(&text, "cannot run %s as OS account \"%s\": it is uid 0 (root), and no request code ever runs as root", purpose_text, account_name);
            refuse(id, true, 403, 19, text.data, purpose_text, account_name);
        } else {
            /* execve's vectors, built here: the child allocates nothing. argv[0] is the file, as the Perl forker does. */
            char **argv = xcalloc((size_t)argc + 2, sizeof *argv);
            char **envp = xcalloc((size_t)envc + 1, sizeof *envp);
            argv[0] = (char *)file.p;
            for (size_t i = 0; i < argc; i++) argv[i + 1] = (char *)args[i].p;
            for (size_t i = 0; i < envc; i++) envp[i] = (char *)env[i].p;
            start_child(connection, input, relay, id, who, file, cwd, purpose_text, argv, envp);
            free(argv);
            free(envp);
        }
    }
    free(text.data);
    free(args);
    free(env);
}

static void start_child(int connection, int input, int *relay, uint64_t id, const account_t *who, field_t file, field_t cwd, const char *purpose, char **argv, char **envp) {
    int status_pipe[2], err_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) {
        buffer text = {0};
        buffer_printf(&text, "cannot run %s: pipe: %s", purpose, error_text(errno));
        refuse(id, true, 500, 0, text.data, purpose, who->name);
        free(text.data);
        return;
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        int error = errno;
        close(status_pipe[0]);
        close(status_pipe[1]);
        buffer text = {0};
        buffer_printf(&text, "cannot run %s: pipe: %s", purpose, error_text(error));
        refuse(id, true, 500, 0, text.data, purpose, who->name);
        free(text.data);
        return;
    }
    /* The child's buffers, sized for this account's groups before the clone. */
    size_t need = 16384 + 12 * who->ngroups;
    if (proc_status_cap < need) {
        free(proc_status);
        proc_status = xmalloc(need);
        proc_status_cap = need;
    }
    if (group_seen_cap < who->ngroups) {
        free(group_seen);
        group_seen = xmalloc(who->ngroups);
        group_seen_cap = who->ngroups;
    }
    spawn_args a = {
        .input = input, .connection = connection, .err_w = err_pipe[1], .status_w = status_pipe[1],
        .uid = who->uid, .gid = who->gid, .groups = who->groups, .sorted = who->sorted, .ngroups = who->ngroups,
        .name = who->name, .file = file.p, .cwd = cwd.p, .argv = argv, .envp = envp,
    };
    /* Returns once the child has exec'd or exited: CLONE_VFORK. */
    pid_t pid = clone(child_main, child_stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int error = errno;
    close(status_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(status_pipe[0]);
        close(err_pipe[0]);
        buffer text = {0};
        buffer_printf(&text, "cannot run %s: fork: %s", purpose, error_text(error));
        refuse(id, true, 503, 2, text.data, purpose, who->name);
        free(text.data);
        return;
    }
    fcntl(err_pipe[0], F_SETFL, fcntl(err_pipe[0], F_GETFL) | O_NONBLOCK);
    if (child_count == child_cap) {
        child_cap = child_cap ? child_cap * 2 : 16;
        children = realloc(children, child_cap * sizeof *children);
        if (!children) out_of_memory();
    }
    child_t *c = &children[child_count++];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->pid = pid;
    c->status_fd = status_pipe[0];
    c->stderr_fd = err_pipe[0]; /* read once STARTED is sent: the worker must know the process before its output */
    c->stdout_fd = -1;
    if (relay && *relay >= 0) {
        c->stdout_fd = *relay; /* the same */
        *relay = -1;
    }
    c->starting = true;
    c->uid = who->uid;
    c->account_name = xstrdup(who->name);
    c->started = xstrdup(who->started);
    c->purpose = xstrdup(purpose);
}

/* ---- connections ------------------------------------------------------------------------------------------------ */

static pid_t peer_pid(int fd, int *uid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        *uid = -1;
        return -1;
    }
    *uid = (int)cred.uid;
    return cred.pid;
}

/* Blocking, with a deadline: only the pool's own worker can connect, so a slow one only delays its own pool. */
static bool read_exactly(int fd, char *data, size_t length) {
    int64_t deadline = now_ms() + HEADER_TIMEOUT_MS;
    size_t done = 0;
    while (done < length) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return false;
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, (int)left);
        if (ready <= 0) continue;
        ssize_t n = read(fd, data + done, length - done);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

/* The process's stdin is a connection of its own, which the worker opens right after the spawn connection (see the
   Perl forker for why). */
static int input_connection(const char *header, size_t length) {
    size_t digits = 0;
    while (digits < length && digits < 11 && header[digits] >= '0' && header[digits] <= '9') digits++;
    if (digits == 0 || digits > 10 || digits >= length || header[digits] != '\0') return -1;
    uint64_t id = 0;
    parse_digits(header, digits, 10, &id);
    int64_t deadline = now_ms() + HEADER_TIMEOUT_MS;
    int input;
    while ((input = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) return -1;
        int64_t left = deadline - now_ms();
        if (left <= 0) return -1;
        struct pollfd p = {listener, POLLIN, 0};
        poll(&p, 1, (int)left);
    }
    int uid;
    char prefix[8];
    unsigned char want[8] = {'P', 'S', 'I', 'N', (unsigned char)(id >> 24), (unsigned char)(id >> 16), (unsigned char)(id >> 8), (unsigned char)id};
    if (peer_pid(input, &uid) != worker_pid || !read_exactly(input, prefix, 8) || memcmp(prefix, want, 8) != 0) {
        close(input);
        return -1;
    }
    return input;
}

static void accept_connection(void) {
    int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) return;
    int uid;
    pid_t pid = peer_pid(connection, &uid);
    if (!worker_pid || pid != worker_pid) {
        buffer text = {0};
        buffer_printf(&text, "pid %d uid %d is not the pool's worker (pid %lld)", (int)pid, uid, (long long)worker_pid);
        event("refused-connection", 2, opt.pool, text.data);
        free(text.data);
        close(connection);
        return;
    }
    unsigned char prefix[8];
    if (!read_exactly(connection, (char *)prefix, 8)) {
        close(connection);
        return;
    }
    uint32_t length = (uint32_t)prefix[4] << 24 | (uint32_t)prefix[5] << 16 | (uint32_t)prefix[6] << 8 | prefix[7];
    if (memcmp(prefix, "PCTL", 4) == 0) {
        drop_control();
        control = connection;
        fcntl(control, F_SETFL, fcntl(control, F_GETFL) | O_NONBLOCK);
        buffer line = {0};
        buffer_str(&line, "HELLO ");
        buffer_escaped(&line, opt.pool, strlen(opt.pool));
        send_control(&line, NULL, 0);
        free(line.data);
    } else if (memcmp(prefix, "PSPN", 4) == 0 && length <= MAX_HEADER && control >= 0) {
        char *header = xmalloc((size_t)length + 1);
        header[length] = '\0';
        int input = -1;
        if (read_exactly(connection, header, length)) input = input_connection(header, length);
        if (input >= 0) spawn_request(connection, input, NULL, header, length);
        else event("invalid", 2, opt.pool, "a spawn request without its header or its stdin connection in time");
        free(header);
        close(connection);
        if (input >= 0) close(input);
    } else {
        event("invalid", 2, opt.pool, control >= 0 ? "unknown connection kind or oversized header" : "a spawn request came before the control connection");
        close(connection);
    }
}

static int killable_signal(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof KILLABLE / sizeof *KILLABLE; i++)
        if (strlen(KILLABLE[i]) == len && memcmp(KILLABLE[i], name, len) == 0) return KILLABLE_NUMBER[i];
    return 0;
}

/* "KILL <id> SIG<NAME>": the process's group, also for a while after the leader exited. */
static bool kill_line(const char *line, size_t len) {
    if (len < 5 || memcmp(line, "KILL ", 5) != 0) return false;
    const char *p = line + 5, *end = line + len;
    const char *space = memchr(p, ' ', (size_t)(end - p));
    if (!space || space == p || p[0] == '0') return false;
    uint64_t id;
    if (!parse_digits(p, (size_t)(space - p), 10, &id)) return false;
    const char *sig = space + 1;
    if (end - sig < 4 || memcmp(sig, "SIG", 3) != 0) return false;
    for (const char *q = sig + 3; q < end; q++)
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9'))) return false;
    int signal = killable_signal(sig + 3, (size_t)(end - sig - 3));
    if (!signal) return false;
    child_t *c = find_child(id);
    if (c) {
        pid_t pgid = c->pid;
        kill_groups(c->uid, signal, &pgid, 1);
        return true;
    }
    double now = now_seconds();
    for (size_t k = 0; k < exited_used; k++) { /* newest first */
        size_t i = (exited_next + MAX_EXITED_GROUPS - 1 - k) % MAX_EXITED_GROUPS;
        if (exited_groups[i].id != id) continue;
        pid_t pgid = exited_groups[i].pgid;
        if (now - exited_groups[i].time < EXITED_GROUP_SECONDS) kill_groups(exited_groups[i].uid, signal, &pgid, 1);
        break;
    }
    return true;
}

/* A SPAWN on the control connection: stdin /dev/null, stdout a pipe relayed as STDOUT messages. */
static void relayed_spawn(char *header, size_t length) {
    int out[2];
    int input = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (input < 0 || pipe2(out, O_CLOEXEC) != 0) {
        int error = errno;
        if (input >= 0) close(input);
        /* Out of descriptors: refused under the request's id when it has a valid one (else the worker's time-out). */
        fields_t f = {header, header + length, 1};
        field_t id_field = next_field(&f);
        uint64_t id = 0;
        buffer text = {0};
        buffer_printf(&text, "cannot start a process: %s: %s", input < 0 ? "/dev/null" : "pipe", error_text(error));
        bool has_id = request_id(id_field, &id) && !find_child(id);
        refuse(id, has_id, 503, 2, text.data, NULL, NULL);
        free(text.data);
        return;
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    int relay = out[0];
    spawn_request(out[1], input, &relay, header, length);
    close(out[1]);
    close(input);
    if (relay >= 0) close(relay); /* refused: no process took it */
}

/* "PAUSE <id>", "RESUME <id>", "DROP <id>": the worker's hold on a SPAWN process's stdout. */
static bool output_line(const char *line, size_t len) {
    const char *space = memchr(line, ' ', len);
    if (!space) return false;
    size_t word = (size_t)(space - line);
    int what = word == 5 && memcmp(line, "PAUSE", 5) == 0 ? 'p' : word == 6 && memcmp(line, "RESUME", 6) == 0 ? 'r' : word == 4 && memcmp(line, "DROP", 4) == 0 ? 'd' : 0;
    const char *p = space + 1;
    size_t n = len - word - 1;
    uint64_t id;
    if (!what || n == 0 || p[0] == '0' || !parse_digits(p, n, 10, &id)) return false;
    child_t *c = find_child(id);
    if (!c || c->stdout_fd < 0) return true; /* at its end already: the messages crossed */
    if (what == 'd') close_output(c, true);
    else c->stdout_paused = what == 'p';
    return true;
}

/* The complete messages in control_in: lines, and the header after a SPAWN line once all of it is there. */
static void control_messages(void) {
    while (control >= 0) {
        char *start = control_in.data + control_in.start;
        size_t available = control_in.len - control_in.start;
        if (control_payload > 0) {
            if (available < control_payload) return;
            size_t length = control_payload;
            control_payload = 0;
            char *header = xmalloc(length + 1);
            memcpy(header, start, length);
            header[length] = '\0';
            control_in.start += length;
            relayed_spawn(header, length);
            free(header);
            continue;
        }
        char *newline = memchr(start, '\n', available);
        if (!newline) {
            /* A line too long is noticed before anything sent after it is answered. */
            if (available > CONTROL_LINE_LIMIT) drop_control();
            return;
        }
        size_t len = (size_t)(newline - start);
        control_in.start += len + 1;
        uint64_t length;
        if (len > 6 && memcmp(start, "SPAWN ", 6) == 0) {
            if (start[6] == '0' || !parse_digits(start + 6, len - 6, 8, &length) || length > MAX_HEADER) {
                /* The header's length is unknown: what follows cannot be told apart from messages. */
                event("invalid", 2, opt.pool, "a SPAWN line without a valid header length");
                drop_control();
                return;
            }
            control_payload = (size_t)length;
        } else if (!kill_line(start, len) && !output_line(start, len)) {
            event("invalid", 2, opt.pool, "an unknown control message");
        }
    }
}

/* Reads what has arrived; answers what is complete. */
static void control_input(void) {
    for (;;) {
        buffer_reserve(&control_in, CONTROL_READ_CHUNK);
        ssize_t n = read(control, control_in.data + control_in.len, CONTROL_READ_CHUNK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) return drop_control();
        control_in.len += (size_t)n;
        control_messages();
        if (control < 0 || (size_t)n < CONTROL_READ_CHUNK) return;
    }
}

static void flush_control(void) {
    if (control < 0 || control_pending() == 0) return;
    ssize_t n = send(control, control_out.data + control_out.start, control_pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) control_out.start += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) drop_control();
    if (control >= 0 && control_out.start == control_out.len) control_out.start = control_out.len = 0;
    if (output_paused && control_pending() <= CONTROL_BUFFER_LIMIT / 2) output_paused = false;
}

/* Launcher -> forker: "worker <pid>" lines; EOF: exit. */
static void launcher_input(void) {
    buffer_reserve(&launcher_in, 4096);
    ssize_t n = read(0, launcher_in.data + launcher_in.len, 4096);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        drop_control();
        unlink(opt.socket);
        exit(0);
    }
    launcher_in.len += (size_t)n;
    for (;;) {
        char *start = launcher_in.data + launcher_in.start;
        char *newline = memchr(start, '\n', launcher_in.len - launcher_in.start);
        if (!newline) break;
        size_t len = (size_t)(newline - start);
        if (len > 7 && memcmp(start, "worker ", 7) == 0) {
            uint64_t pid;
            const char *digits = start + 7;
            size_t count = len - 7;
            bool all_digits = true;
            for (size_t i = 0; i < count; i++) all_digits = all_digits && digits[i] >= '0' && digits[i] <= '9';
            if (all_digits) {
                /* A number no pid can be (more digits than any pid) matches no connection. */
                int64_t value = parse_digits(digits, count, 18, &pid) ? (int64_t)pid : INT64_MAX;
                if (value != worker_pid) drop_control();
                worker_pid = value;
            }
        }
        launcher_in.start = (size_t)(newline + 1 - launcher_in.data);
    }
    if (launcher_in.len - launcher_in.start > LAUNCHER_LINE_LIMIT) launcher_in.start = launcher_in.len = 0;
}

/* ---- main ------------------------------------------------------------------------------------------------------- */

static _Noreturn void die(const char *format, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    fputs("persona-forker: ", stderr);
    vfprintf(stderr, format, ap);
    va_end(ap);
    exit(255);
}

static void close_inherited_fds(void) {
    if (close_range(3, ~0U, 0) == 0) return;
    /* Kernels before 5.9: every open descriptor, as /proc lists them. */
    DIR *d = opendir("/proc/self/fd");
    if (!d) die("cannot list /proc/self/fd: %s\n", error_text(errno));
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t fd;
        if (parse_digits(e->d_name, strlen(e->d_name), 9, &fd) && fd > 2 && (int)fd != own) close((int)fd);
    }
    closedir(d);
}

#define USAGE "usage: --socket PATH --group GID --pool NAME --pool-account NAME --replace-process-token 0|1 [--max-live N]\n"

static void parse_options(int argc, char **argv) {
    opt.max_live = "256";
    for (int i = 1; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) die(USAGE);
        if (strcmp(name, "--socket") == 0) opt.socket = value;
        else if (strcmp(name, "--group") == 0) opt.group = value;
        else if (strcmp(name, "--pool") == 0) opt.pool = value;
        else if (strcmp(name, "--pool-account") == 0) opt.pool_account = value;
        else if (strcmp(name, "--replace-process-token") == 0) opt.replace_process_token = value;
        else if (strcmp(name, "--max-live") == 0) opt.max_live = value;
        else die(USAGE);
    }
    if (!opt.socket) die("--socket is required\n");
    if (!opt.group) die("--group is required\n");
    if (!opt.pool) die("--pool is required\n");
    if (!opt.pool_account) die("--pool-account is required\n");
    if (!opt.replace_process_token) die("--replace-process-token is required\n");
    uint64_t value;
    if (!parse_digits(opt.group, strlen(opt.group), 10, &value) || value > UINT32_MAX - 1) die(USAGE);
    socket_group = (gid_t)value;
    if (!parse_digits(opt.max_live, strlen(opt.max_live), 9, &max_live)) die(USAGE);
    /* Perl's truth: "" and "0" are false. */
    replace_process_token = !(opt.replace_process_token[0] == '\0' || strcmp(opt.replace_process_token, "0") == 0);
}

int main(int argc, char **argv) {
    parse_options(argc, argv);
    if (getuid() != 0 || geteuid() != 0) die("must run as root\n");
    /* Nothing the launcher left open beyond stdio may reach a program (0-2 are replaced in every child; the rest are
       ours and close-on-exec). */
    close_inherited_fds();
    /* 0, 1 and 2 must be open, or the pipes and sockets made below would take their numbers. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) die("cannot open /dev/null\n");

    signal(SIGPIPE, SIG_IGN);
    /* SIGCHLD through a signalfd: no handler (none may run on a vfork child's stack), and no lost wake-up. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    signal_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) die("signalfd: %s\n", error_text(errno));

    child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (child_stack == MAP_FAILED) die("mmap: %s\n", error_text(errno));
    /* A guard page: a child that overflowed its stack faults rather than write over the forker's memory. */
    if (mprotect(child_stack, 4096, PROT_NONE) != 0) die("mprotect: %s\n", error_text(errno));

    /* Made under a temporary name and renamed into place once it listens with its owner and mode: whoever sees the
       socket (the launcher waits for it) can connect at once, and never to a socket with the wrong permissions. */
    buffer staging = {0};
    buffer_printf(&staging, "%s.new", opt.socket);
    unlink(staging.data);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener < 0) die("socket: %s\n", error_text(errno));
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (staging.len >= sizeof address.sun_path) die("cannot listen on %s: %s\n", staging.data, error_text(ENAMETOOLONG));
    memcpy(address.sun_path, staging.data, staging.len);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) die("cannot listen on %s: %s\n", staging.data, error_text(errno));
    if (chown(staging.data, 0, socket_group) != 0) die("chown %s: %s\n", staging.data, error_text(errno));
    if (chmod(staging.data, 0660) != 0) die("chmod %s: %s\n", staging.data, error_text(errno));
    if (listen(listener, 128) != 0) die("listen: %s\n", error_text(errno));
    if (rename(staging.data, opt.socket) != 0) die("rename %s to %s: %s\n", staging.data, opt.socket, error_text(errno));
    free(staging.data);

    struct pollfd *fds = NULL;
    uint64_t *owner_id = NULL;
    char *owner_kind = NULL; /* 's': status pipe, 'e': stderr pipe, 'o': relayed stdout pipe */
    size_t fds_cap = 0;
    for (;;) {
        size_t want = 4 + 2 * child_count; /* a child's status pipe while it starts, then its stderr and stdout */
        if (want > fds_cap) {
            fds_cap = want * 2;
            free(fds);
            free(owner_id);
            free(owner_kind);
            fds = xcalloc(fds_cap, sizeof *fds);
            owner_id = xcalloc(fds_cap, sizeof *owner_id);
            owner_kind = xcalloc(fds_cap, sizeof *owner_kind);
        }
        size_t n = 0;
        fds[n++] = (struct pollfd){0, POLLIN, 0};
        fds[n++] = (struct pollfd){listener, POLLIN, 0};
        fds[n++] = (struct pollfd){signal_fd, POLLIN, 0};
        size_t control_index = n;
        if (control >= 0) fds[n++] = (struct pollfd){control, (short)(POLLIN | (control_pending() ? POLLOUT : 0)), 0};
        size_t first_child = n;
        bool read_output = !output_paused;
        for (size_t i = 0; i < child_count; i++) {
            child_t *c = &children[i];
            if (c->status_fd >= 0) {
                owner_id[n] = c->id;
                owner_kind[n] = 's';
                fds[n++] = (struct pollfd){c->status_fd, POLLIN, 0};
                continue;
            }
            if (c->starting || !read_output) continue;
            if (c->stderr_fd >= 0) {
                owner_id[n] = c->id;
                owner_kind[n] = 'e';
                fds[n++] = (struct pollfd){c->stderr_fd, POLLIN, 0};
            }
            if (c->stdout_fd >= 0 && !c->stdout_paused) {
                owner_id[n] = c->id;
                owner_kind[n] = 'o';
                fds[n++] = (struct pollfd){c->stdout_fd, POLLIN, 0};
            }
        }
        int ready = poll(fds, n, -1);
        if (ready < 0 && errno != EINTR) die("poll: %s\n", error_text(errno));
        if (ready > 0) {
            if (fds[2].revents) {
                struct signalfd_siginfo info;
                while (read(signal_fd, &info, sizeof info) > 0) {
                }
            }
            reap();
            if (fds[0].revents) launcher_input();
            if (fds[1].revents) {
                for (int k = 0; k < 16; k++) {
                    struct pollfd p = {listener, POLLIN, 0};
                    if (k > 0 && poll(&p, 1, 0) <= 0) break;
                    accept_connection();
                }
            }
            int control_fd = control_index < first_child ? fds[control_index].fd : -1;
            if (control >= 0 && control == control_fd && (fds[control_index].revents & (POLLIN | POLLHUP | POLLERR))) control_input();
            for (size_t i = first_child; i < n; i++) {
                if (!fds[i].revents) continue;
                child_t *c = find_child(owner_id[i]);
                if (!c) continue;
                if (owner_kind[i] == 's' && c->status_fd == fds[i].fd) status_input(owner_id[i]);
                else if (owner_kind[i] == 'e' && c->stderr_fd == fds[i].fd) output_input(owner_id[i], false);
                else if (owner_kind[i] == 'o' && c->stdout_fd == fds[i].fd) output_input(owner_id[i], true);
            }
            reap();
        }
        flush_control();
    }
}
