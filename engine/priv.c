/*
 * engine/priv.c -- least privilege: canh run started as root opens what
 * needs root, then becomes an ordinary user with no capability left.
 *
 * The order is canh_run's (run.c): check that the switch is possible, make
 * the folders and files canh writes (state_dir, the rule cache, the
 * spool, the alerts and stats files) owned by the user, bind the
 * listeners and read the TLS keys, switch (canh_priv_drop), then check,
 * as the user, that what was already there can be written, and only then
 * load the rules and start the threads. Everything after -- reloads,
 * reopening the output files, saving file offsets, the spool, Kafka --
 * runs as the user.
 *
 * The switch is libcap-ng's capng_change_id: group, supplementary groups
 * (the user's own, from the group database, as login and systemd set
 * them, so that membership of `adm` can open /var/log; none for a user
 * that is only a number), user, with the bounding and ambient sets
 * cleared and no capability kept. None is needed: the listeners are bound
 * before, and a reload (SIGHUP) reads rules, not the inputs, so it never
 * binds a port; a new listen address needs a restart. Then
 * PR_SET_NO_NEW_PRIVS: nothing canh might run can gain privileges.
 * Capabilities and no_new_privs belong to a thread, and threads inherit
 * them when they are made: the switch is done while the main thread is
 * the only one.
 *
 * Thread: the main thread, before any other exists. canh_priv_lookup is
 * also called by the config loader.
 */
#include "priv.h"

#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canh.h"

#define TREE_DEPTH 4       /* state_dir/spool/..., state_dir/hs-cache/...: deep enough */
#define MAX_GROUPS 64      /* supplementary groups named in the start-up line */

/* A uid or gid written as a number: digits only, not (uid_t)-1. */
static int as_number(const char *s, long *v)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
        return 0;
    unsigned long long n = strtoull(s, NULL, 10);
    if (n >= 0xffffffffull)
        return 0;
    *v = (long)n;
    return 1;
}

int canh_priv_lookup(canh_priv_t *p, const char *user, const char *group, char *err,
                     size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->uid = p->gid = -1;
    if (!user && !group)
        return CANH_OK;
    if (!user) {
        snprintf(err, errlen, "group: set 'user' too: canh changes its group only when it "
                 "changes its user");
        return CANH_EINVAL;
    }
    long n;
    struct passwd *pw;
    if (as_number(user, &n)) {
        pw = getpwuid((uid_t)n);
        p->uid = n;
    } else {
        pw = getpwnam(user);
        if (!pw) {
            snprintf(err, errlen, "user: no user '%s' on this machine; make one (useradd "
                     "--system --no-create-home --shell /usr/sbin/nologin %s) or name another",
                     user, user);
            return CANH_EINVAL;
        }
        p->uid = (long)pw->pw_uid;
    }
    p->has_pw = pw != NULL;
    long pw_gid = pw ? (long)pw->pw_gid : -1;
    snprintf(p->user, sizeof(p->user), "%s", pw ? pw->pw_name : user);
    if (p->uid == 0) {
        snprintf(err, errlen, "user: '%s' is uid 0 (root): canh would keep full privileges; "
                 "name an unprivileged user, or leave out 'user' to stay as started", user);
        return CANH_EINVAL;
    }
    struct group *gr = NULL;
    if (group && as_number(group, &n)) {
        p->gid = n;
        gr = getgrgid((gid_t)n);
    } else if (group) {
        if (!(gr = getgrnam(group))) {
            snprintf(err, errlen, "group: no group '%s' on this machine", group);
            return CANH_EINVAL;
        }
        p->gid = (long)gr->gr_gid;
    } else if (pw_gid >= 0) {
        p->gid = pw_gid;
        gr = getgrgid((gid_t)pw_gid);
    } else {
        snprintf(err, errlen, "user: uid %ld has no entry in the user database, so no group "
                 "of its own: set 'group' too", p->uid);
        return CANH_EINVAL;
    }
    if (gr)
        snprintf(p->group, sizeof(p->group), "%s", gr->gr_name);
    else
        snprintf(p->group, sizeof(p->group), "%ld", p->gid);
    p->on = 1;
    return CANH_OK;
}

/* Already p's user and group, real, effective and saved. */
static int already(const canh_priv_t *p)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
        return 0;
    return (long)r == p->uid && (long)e == p->uid && (long)s == p->uid && (long)rg == p->gid &&
           (long)eg == p->gid && (long)sg == p->gid;
}

int canh_priv_check(const canh_priv_t *p, char *err, size_t errlen)
{
    if (!p->on || already(p))
        return CANH_OK;
    if (capng_get_caps_process() == 0 && capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) &&
        capng_have_capability(CAPNG_EFFECTIVE, CAP_SETGID))
        return CANH_OK;
    snprintf(err, errlen, "cannot switch to user %s (uid %ld) and group %s (gid %ld): canh was "
             "started as uid %u, gid %u, without the right to change user (CAP_SETUID and "
             "CAP_SETGID); start it as root or as that user, or leave out 'user' and 'group'",
             p->user, p->uid, p->group, p->gid, (unsigned)geteuid(), (unsigned)getegid());
    return CANH_EINVAL;
}

/* Gives one folder or file, open as fd, to p's user and group. */
static int give(const canh_priv_t *p, int fd, const char *what, const char *path, char *err,
                size_t errlen)
{
    if (fd >= 0 && fchown(fd, (uid_t)p->uid, (gid_t)p->gid) == 0)
        return CANH_OK;
    snprintf(err, errlen, "%s: cannot give '%s' to user %s: %s", what, path, p->user,
             strerror(errno));
    return CANH_EIO;
}

int canh_priv_prepare(const canh_priv_t *p, const char *what, const char *path, int is_file,
                      char *err, size_t errlen)
{
    if (!p->on || !path || !strcmp(path, "-") || already(p))
        return CANH_OK;
    if (is_file) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)   /* there already, or no folder: checked and reported later */
            return CANH_OK;
        int rc = give(p, fd, what, path, err, errlen);
        close(fd);
        return rc;
    }
    struct stat st;
    char buf[PATH_MAX];
    if (stat(path, &st) == 0 || errno != ENOENT ||
        snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return CANH_OK;
    /* where the first missing folder on the way ends */
    size_t first = strlen(buf);
    for (size_t i = 1; buf[i - 1]; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        int missing = stat(buf, &st) != 0;
        buf[i] = c;
        if (missing) {
            first = i;
            break;
        }
    }
    if (canh_mkdirs(path) != 0)
        return CANH_OK;   /* the caller says why, as without a user */
    /* every folder made here is the user's, so that it can reach the last */
    for (size_t i = first;; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        int fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int rc = give(p, fd, what, buf, err, errlen);
        if (fd >= 0)
            close(fd);
        if (rc != CANH_OK)
            return rc;
        buf[i] = c;
        if (!c)
            return CANH_OK;
    }
}

/* no_new_privs: nothing canh runs (librdkafka's kinit command, say) can
 * gain privileges through a set-user-ID file or file capabilities. */
static int no_new_privs(char *err, size_t errlen)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        return CANH_OK;
    snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
    return CANH_EINVAL;
}

/* Not switching: any capability the process has (an ambient one from
 * systemd, to bind a low port) is given up; the bounding set is left
 * (changing it needs CAP_SETPCAP). */
static int caps_clear(char *err, size_t errlen)
{
    if (capng_get_caps_process() != 0) {
        snprintf(err, errlen, "cannot read the process's capabilities: %s", strerror(errno));
        return CANH_EINVAL;
    }
    if (capng_have_permitted_capabilities() == CAPNG_NONE &&
        capng_have_capabilities(CAPNG_SELECT_AMBIENT) == CAPNG_NONE)
        return CANH_OK;
    capng_clear((capng_select_t)(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT));
    if (capng_apply((capng_select_t)(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT)) != 0) {
        snprintf(err, errlen, "cannot give up the capabilities canh was started with: %s",
                 strerror(errno));
        return CANH_EINVAL;
    }
    CANH_INFO("listeners open: the capabilities canh was started with are given up");
    return CANH_OK;
}

/* What capng_change_id's error code says went wrong. */
static const char *change_id_step(int rc)
{
    switch (rc) {
    case -2: case -7: return "keeping capabilities across the change";
    case -3: return "taking the capabilities the change needs";
    case -4: return "changing the group";
    case -5: return "setting the supplementary groups";
    case -6: return "changing the user";
    case -8: return "clearing the bounding set";
    case -9: return "dropping the remaining capabilities";
    case -10: return "finding the user in the user database";
    default: return "starting";
    }
}

/* "adm, nogroup" from getgroups(), for the start-up line. */
static void groups_text(char *buf, size_t len)
{
    gid_t g[MAX_GROUPS];
    int n = getgroups(MAX_GROUPS, g);
    size_t at = 0;
    buf[0] = '\0';
    if (n < 0) {
        snprintf(buf, len, "more than %d", MAX_GROUPS);
        return;
    }
    for (int i = 0; i < n && at < len; i++) {
        struct group *gr = getgrgid(g[i]);
        int w = gr ? snprintf(buf + at, len - at, "%s%s", i ? ", " : "", gr->gr_name)
                   : snprintf(buf + at, len - at, "%s%u", i ? ", " : "", (unsigned)g[i]);
        at += w > 0 ? (size_t)w : 0;
    }
    if (n == 0)
        snprintf(buf, len, "none");
}

int canh_priv_drop(const canh_priv_t *p, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!p->on) {
        if (geteuid() == 0) {
            CANH_WARN("canh runs as root with full privileges: set 'user' (and 'group') in "
                      "canh.yml to switch to an unprivileged user once the listeners are open, "
                      "or start canh from systemd with User= (README: Running with least "
                      "privilege)");
            return no_new_privs(err, errlen);
        }
        if (caps_clear(err, errlen) != CANH_OK)
            return CANH_EINVAL;
        return no_new_privs(err, errlen);
    }
    if (already(p)) {
        if (caps_clear(err, errlen) != CANH_OK || no_new_privs(err, errlen) != CANH_OK)
            return CANH_EINVAL;
        CANH_INFO("running as user %s (uid %ld), group %s (gid %ld), as started",
                  p->user, p->uid, p->group, p->gid);
        return CANH_OK;
    }
    if (capng_get_caps_process() != 0) {
        snprintf(err, errlen, "cannot read the process's capabilities: %s", strerror(errno));
        return CANH_EINVAL;
    }
    int bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
    capng_clear(CAPNG_SELECT_ALL);   /* keep nothing */
    int flags = CAPNG_CLEAR_AMBIENT | (p->has_pw ? CAPNG_INIT_SUPP_GRP : CAPNG_DROP_SUPP_GRP) |
                (bounding ? CAPNG_CLEAR_BOUNDING : 0);
    errno = 0;
    int rc = capng_change_id((int)p->uid, (int)p->gid, (capng_flags_t)flags);
    if (rc != 0) {
        snprintf(err, errlen, "cannot switch to user %s (uid %ld) and group %s (gid %ld): "
                 "failed %s (libcap-ng %d)%s%s", p->user, p->uid, p->group, p->gid,
                 change_id_step(rc), rc, errno ? ": " : "", errno ? strerror(errno) : "");
        return CANH_EINVAL;
    }
    /* what was promised, as the kernel has it now */
    if (!already(p)) {
        snprintf(err, errlen, "switched to user %s, but the user and group ids are not all "
                 "uid %ld and gid %ld", p->user, p->uid, p->gid);
        return CANH_EINVAL;
    }
    if (capng_get_caps_process() != 0 || capng_have_permitted_capabilities() != CAPNG_NONE ||
        capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
        capng_have_capabilities(CAPNG_SELECT_AMBIENT) != CAPNG_NONE ||
        (bounding && capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)) {
        snprintf(err, errlen, "switched to user %s, but capabilities remain", p->user);
        return CANH_EINVAL;
    }
    if (no_new_privs(err, errlen) != CANH_OK)
        return CANH_EINVAL;
    char groups[512];
    groups_text(groups, sizeof(groups));
    CANH_INFO("running as user %s (uid %ld), group %s (gid %ld), supplementary groups: %s; "
              "no capabilities%s, no_new_privs", p->user, p->uid, p->group, p->gid, groups,
              bounding ? "" : " (the bounding set is kept: canh had no CAP_SETPCAP)");
    return CANH_OK;
}

/* `path` cannot be written by canh as it runs now: say whose it is and
 * what to do. `top` is the configured folder or file. */
static int refuse(const canh_priv_t *p, const char *what, const char *top, const char *path,
                  char *err, size_t errlen)
{
    struct stat st;
    char owner[96] = "?";
    unsigned mode = 0;
    int dir = 0;
    if (lstat(path, &st) == 0) {
        dir = S_ISDIR(st.st_mode);
        struct passwd *pw = getpwuid(st.st_uid);
        snprintf(owner, sizeof(owner), "%s (uid %u)", pw ? pw->pw_name : "no user",
                 (unsigned)st.st_uid);
        mode = st.st_mode & 07777;
    }
    if (strcmp(top, path))
        snprintf(err, errlen, "%s '%s': '%s' cannot be written by user %s (uid %ld): it "
                 "belongs to %s, mode %04o (left by canh running as another user?); give the "
                 "folder to the user: chown -R %s:%s '%s'", what, top, path, p->user, p->uid,
                 owner, mode, p->user, p->group, top);
    else
        snprintf(err, errlen, "%s '%s' cannot be written by user %s (uid %ld): it belongs to "
                 "%s, mode %04o; give it to the user (chown %s%s:%s '%s') or choose another",
                 what, path, p->user, p->uid, owner, mode, dir ? "-R " : "",
                 p->user, p->group, path);
    return CANH_EINVAL;
}

/* Everything under the folder open as dfd (taken over), `depth` levels
 * down: folders readable, writable and searchable, files readable and
 * writable. Symbolic links and other kinds are not canh's and are left. */
static int tree_usable(const canh_priv_t *p, const char *what, const char *top, int dfd,
                       const char *at, int depth, char *err, size_t errlen)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return CANH_OK;
    }
    int rc = CANH_OK;
    struct dirent *e;
    while (rc == CANH_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        int dir = S_ISDIR(st.st_mode);
        if (!dir && !S_ISREG(st.st_mode))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", at, e->d_name) >= (int)sizeof(path))
            continue;
        if (faccessat(dirfd(d), e->d_name, dir ? R_OK | W_OK | X_OK : R_OK | W_OK, 0) != 0) {
            rc = refuse(p, what, top, path, err, errlen);
            break;
        }
        if (!dir || depth >= TREE_DEPTH)
            continue;
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0)
            rc = tree_usable(p, what, top, sub, path, depth + 1, err, errlen);
    }
    closedir(d);
    return rc;
}

int canh_priv_usable(const canh_priv_t *p, const char *what, const char *path, int is_file,
                     char *err, size_t errlen)
{
    if (!p->on || !path || !strcmp(path, "-"))
        return CANH_OK;
    if (!is_file) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return CANH_OK;   /* made later, or refused later as it is refused without a user */
        if (access(path, R_OK | W_OK | X_OK) != 0)
            return refuse(p, what, path, path, err, errlen);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? CANH_OK : tree_usable(p, what, path, fd, path, 1, err, errlen);
    }
    if (access(path, W_OK) != 0 && errno != ENOENT)
        return refuse(p, what, path, path, err, errlen);
    /* log rotation: SIGUSR1 makes a new file in the same folder */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (access(dir, W_OK | X_OK) != 0 && errno == EACCES)
        CANH_WARN("%s '%s': user %s cannot make files in '%s': after log rotation, SIGUSR1 "
                  "and SIGHUP reopen the file only if logrotate makes it (create 0600 %s %s)",
                  what, path, p->user, dir, p->user, p->group);
    return CANH_OK;
}
