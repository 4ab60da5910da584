/*
 * tests/test_priv.c -- least privilege (engine/priv.c): `user:` and
 * `group:` resolved (names, numbers, refusals) and reported with their
 * line by the config loader; folders and files made for the user before
 * the switch; the switch itself (ids, groups, capabilities,
 * no_new_privs, as /proc shows them); and what the user cannot write
 * refused by name afterwards.
 *
 * The tests that make files for another user or switch need root (the
 * e2e case run_least_privilege runs canh itself that way); as another
 * user they are skipped. They use `nobody` and `nogroup`, which Debian
 * always has. Thread: Criterion runs each test in its own process, so a
 * test may switch user.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/config.h"
#include "../engine/priv.h"

#define NOBODY 65534

static char err[1024];

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
}

/* A fresh folder under /tmp that `nobody` may pass through. */
static void tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/canh-priv-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
    cr_assert_eq(chmod(buf, 0755), 0);
}

/* A line of /proc/thread-self/status, without its key ("Uid"). */
static const char *status(const char *key)
{
    static char line[256];
    FILE *f = fopen("/proc/thread-self/status", "r");
    cr_assert_not_null(f);
    size_t klen = strlen(key);
    const char *found = NULL;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            size_t end = strcspn(line, "\n");
            while (end > klen + 1 && (line[end - 1] == ' ' || line[end - 1] == '\t'))
                end--;
            line[end] = '\0';
            found = line + klen + 1 + strspn(line + klen + 1, " \t");
            break;
        }
    fclose(f);
    cr_assert_not_null(found, "no %s in /proc/thread-self/status", key);
    return found;
}

/* ---- user: and group: ---- */

Test(priv_lookup, names_and_numbers)
{
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, NULL, NULL, err, sizeof(err)), CANH_OK);
    cr_assert_eq(p.on, 0, "neither set: canh stays as started");

    cr_assert_eq(canh_priv_lookup(&p, "nobody", NULL, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert(p.on && p.uid == NOBODY && p.gid == NOBODY && p.has_pw);
    cr_assert_str_eq(p.user, "nobody");
    cr_assert_str_eq(p.group, "nogroup", "the user's own group when none is given");

    cr_assert_eq(canh_priv_lookup(&p, "65534", "daemon", err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert(p.uid == NOBODY && p.gid == 1 && p.has_pw);
    cr_assert_str_eq(p.user, "nobody", "a number with an entry is named by it");
    cr_assert_str_eq(p.group, "daemon");

    cr_assert_eq(canh_priv_lookup(&p, "4242420", "4242421", err, sizeof(err)), CANH_OK, "%s",
                 err);
    cr_assert(p.uid == 4242420 && p.gid == 4242421 && !p.has_pw,
              "a number without an entry is taken as it is");
    cr_assert_str_eq(p.user, "4242420");
    cr_assert_str_eq(p.group, "4242421");
}

Test(priv_lookup, refusals)
{
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, "root", NULL, err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "user: 'root' is uid 0 (root): canh would keep full privileges"), "%s",
              err);
    cr_assert_eq(canh_priv_lookup(&p, "0", "nogroup", err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "is uid 0"), "%s", err);
    cr_assert_eq(canh_priv_lookup(&p, "canh-no-such-user", NULL, err, sizeof(err)),
                 CANH_EINVAL);
    cr_assert(strstr(err, "user: no user 'canh-no-such-user' on this machine; make one "
                          "(useradd --system"), "%s", err);
    cr_assert_eq(canh_priv_lookup(&p, "nobody", "canh-no-such-group", err, sizeof(err)),
                 CANH_EINVAL);
    cr_assert_str_eq(err, "group: no group 'canh-no-such-group' on this machine");
    cr_assert_eq(canh_priv_lookup(&p, NULL, "nogroup", err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "group: set 'user' too"), "%s", err);
    cr_assert_eq(canh_priv_lookup(&p, "4242420", NULL, err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "uid 4242420 has no entry in the user database, so no group of its "
                          "own: set 'group' too"), "%s", err);
    cr_assert_eq(canh_priv_lookup(&p, "4294967295", "1", err, sizeof(err)), CANH_EINVAL,
                 "(uid_t)-1 is no user: read as a name, and there is none");
}

static int config_errors(const char *yaml, char *first, size_t len)
{
    canh_config_t *c = NULL;
    int rc = canh_config_load_string(&c, "canh.yml", yaml, strlen(yaml), NULL, NULL, first,
                                     len);
    canh_config_free(c);
    return rc;
}

Test(priv_config, keys_resolved_with_their_line)
{
    canh_config_t *c = NULL;
    const char *y = "workers: 1\nuser: nobody\ngroup: daemon\ninputs:\n  - type: stdin\n";
    cr_assert_eq(canh_config_load_string(&c, "canh.yml", y, strlen(y), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert(c->priv.on && c->priv.uid == NOBODY && c->priv.gid == 1);
    canh_config_free(c);

    y = "workers: 1\ninputs:\n  - type: stdin\n";
    cr_assert_eq(canh_config_load_string(&c, "canh.yml", y, strlen(y), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(c->priv.on, 0, "unset: canh stays as started");
    canh_config_free(c);

    cr_assert_eq(config_errors("workers: 1\nuser: canh-no-such-user\ninputs:\n"
                               "  - type: stdin\n", err, sizeof(err)), CANH_EINVAL);
    cr_assert(!strncmp(err, "canh.yml:2: user: no user 'canh-no-such-user'", 45), "%s", err);
    cr_assert_eq(config_errors("inputs:\n  - type: stdin\nuser: nobody\ngroup: nope-grp\n", err,
                               sizeof(err)), CANH_EINVAL);
    cr_assert_str_eq(err, "canh.yml:4: group: no group 'nope-grp' on this machine");
    cr_assert_eq(config_errors("inputs:\n  - type: stdin\ngroup: nogroup\n", err, sizeof(err)),
                 CANH_EINVAL);
    cr_assert(!strncmp(err, "canh.yml:3: group: set 'user' too", 33), "%s", err);
}

/* ---- before the switch: made for the user ---- */

Test(priv_prepare, folders_made_for_the_user)
{
    need_root();
    char top[64], deep[256];
    tmpdir(top, sizeof(top));
    snprintf(deep, sizeof(deep), "%s/a/b/state", top);
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, "nobody", NULL, err, sizeof(err)), CANH_OK);
    cr_assert_eq(canh_priv_prepare(&p, "state_dir", deep, 0, err, sizeof(err)), CANH_OK, "%s",
                 err);
    struct stat st;
    const char *made[] = { "/a", "/a/b", "/a/b/state" };
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s", top, made[i]);
        cr_assert_eq(stat(path, &st), 0, "%s not made", path);
        cr_assert(S_ISDIR(st.st_mode) && st.st_uid == NOBODY && st.st_gid == NOBODY,
                  "%s: uid %u gid %u", path, st.st_uid, st.st_gid);
    }
    cr_assert_eq(stat(top, &st), 0);
    cr_assert_eq(st.st_uid, 0, "a folder that was there is left as it is");

    /* already there: untouched (checked after the switch instead) */
    char there[256];
    snprintf(there, sizeof(there), "%s/there", top);
    cr_assert_eq(mkdir(there, 0700), 0);
    cr_assert_eq(canh_priv_prepare(&p, "state_dir", there, 0, err, sizeof(err)), CANH_OK);
    cr_assert_eq(stat(there, &st), 0);
    cr_assert_eq(st.st_uid, 0);

    /* not switching: nothing made */
    canh_priv_t off;
    canh_priv_lookup(&off, NULL, NULL, err, sizeof(err));
    snprintf(there, sizeof(there), "%s/not-made", top);
    cr_assert_eq(canh_priv_prepare(&off, "state_dir", there, 0, err, sizeof(err)), CANH_OK);
    cr_assert_neq(stat(there, &st), 0);
}

Test(priv_prepare, files_made_for_the_user_never_through_a_link)
{
    need_root();
    char top[64], path[256], target[256], link[256];
    tmpdir(top, sizeof(top));
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, "nobody", NULL, err, sizeof(err)), CANH_OK);
    snprintf(path, sizeof(path), "%s/alerts.jsonl", top);
    cr_assert_eq(canh_priv_prepare(&p, "outputs.alerts.path", path, 1, err, sizeof(err)),
                 CANH_OK, "%s", err);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode) && st.st_uid == NOBODY && st.st_gid == NOBODY);
    cr_assert_eq(st.st_mode & 0777, 0600);

    /* a link planted where the file goes: the file it points to is not
     * made the user's */
    snprintf(target, sizeof(target), "%s/shadow", top);
    snprintf(link, sizeof(link), "%s/stats.jsonl", top);
    int fd = open(target, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(canh_priv_prepare(&p, "outputs.stats.path", link, 1, err, sizeof(err)),
                 CANH_OK);
    cr_assert_eq(stat(target, &st), 0);
    cr_assert_eq(st.st_uid, 0, "the link's target was given to the user");

    cr_assert_eq(canh_priv_prepare(&p, "outputs.alerts.path", "-", 1, err, sizeof(err)),
                 CANH_OK, "standard output is nothing to make");
}

/* ---- the switch, and what the user can write after it ---- */

Test(priv_drop, nobody_without_any_capability)
{
    need_root();
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, "nobody", "daemon", err, sizeof(err)), CANH_OK);
    cr_assert_eq(canh_priv_check(&p, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_priv_drop(&p, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_str_eq(status("Uid"), "65534\t65534\t65534\t65534");
    cr_assert_str_eq(status("Gid"), "1\t1\t1\t1");
    cr_assert_str_eq(status("Groups"), "1", "nobody is in no other group");
    const char *caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(status(caps[i]), "0000000000000000", "%s", caps[i]);
    cr_assert_str_eq(status("NoNewPrivs"), "1");
    /* and there is no way back */
    cr_assert_neq(setuid(0), 0);
    cr_assert_neq(canh_priv_check(&(canh_priv_t){ .on = 1, .uid = 1, .gid = 1,
                                                  .user = "daemon", .group = "daemon" },
                                  err, sizeof(err)), CANH_OK);
    cr_assert(strstr(err, "cannot switch to user daemon (uid 1) and group daemon (gid 1): canh "
                          "was started as uid 65534, gid 1, without the right to change user"),
              "%s", err);
}

Test(priv_drop, not_switching_keeps_root_but_sets_no_new_privs)
{
    need_root();
    canh_priv_t p;
    canh_priv_lookup(&p, NULL, NULL, err, sizeof(err));
    cr_assert_eq(canh_priv_drop(&p, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_str_eq(status("Uid"), "0\t0\t0\t0");
    cr_assert_str_eq(status("NoNewPrivs"), "1");
}

Test(priv_usable, what_the_user_cannot_write_is_named)
{
    need_root();
    char top[64], mine[256], roots[256], inner[256], file[256], alerts[256];
    tmpdir(top, sizeof(top));
    canh_priv_t p;
    cr_assert_eq(canh_priv_lookup(&p, "nobody", NULL, err, sizeof(err)), CANH_OK);
    /* the user's folder, holding a folder of its own with a file root left */
    snprintf(mine, sizeof(mine), "%s/state", top);
    snprintf(inner, sizeof(inner), "%s/state/spool", top);
    snprintf(file, sizeof(file), "%s/state/spool/head", top);
    cr_assert_eq(canh_priv_prepare(&p, "state_dir", inner, 0, err, sizeof(err)), CANH_OK);
    int fd = open(file, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    /* a folder root made */
    snprintf(roots, sizeof(roots), "%s/roots", top);
    cr_assert_eq(mkdir(roots, 0755), 0);
    /* an alerts file root made, in a folder the user cannot add files to */
    snprintf(alerts, sizeof(alerts), "%s/alerts.jsonl", top);
    fd = open(alerts, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    close(fd);

    cr_assert_eq(canh_priv_drop(&p, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_priv_usable(&p, "state_dir", mine, 0, err, sizeof(err)), CANH_EINVAL);
    char want[1024];
    snprintf(want, sizeof(want), "state_dir '%s': '%s' cannot be written by user nobody (uid "
             "65534): it belongs to root (uid 0), mode 0644", mine, file);
    cr_assert(!strncmp(err, want, strlen(want)), "got: %s\nwant: %s", err, want);
    cr_assert(strstr(err, "chown -R nobody:nogroup"), "%s", err);

    cr_assert_eq(canh_priv_usable(&p, "outputs.kafka.spool.path", roots, 0, err, sizeof(err)),
                 CANH_EINVAL);
    snprintf(want, sizeof(want), "outputs.kafka.spool.path '%s' cannot be written by user "
             "nobody (uid 65534): it belongs to root (uid 0), mode 0755", roots);
    cr_assert(!strncmp(err, want, strlen(want)), "got: %s\nwant: %s", err, want);

    cr_assert_eq(canh_priv_usable(&p, "outputs.alerts.path", alerts, 1, err, sizeof(err)),
                 CANH_EINVAL);
    snprintf(want, sizeof(want), "outputs.alerts.path '%s' cannot be written by user nobody",
             alerts);
    cr_assert(!strncmp(err, want, strlen(want)), "got: %s\nwant: %s", err, want);

    /* fine: what is not there yet (canh makes it), and the user's own */
    snprintf(alerts, sizeof(alerts), "%s/state/new.jsonl", top);
    cr_assert_eq(canh_priv_usable(&p, "outputs.stats.path", alerts, 1, err, sizeof(err)),
                 CANH_OK, "%s", err);
    snprintf(alerts, sizeof(alerts), "%s/state/later", top);
    cr_assert_eq(canh_priv_usable(&p, "state_dir", alerts, 0, err, sizeof(err)), CANH_OK);
    cr_assert_eq(canh_priv_usable(&p, "state_dir", inner, 0, err, sizeof(err)), CANH_EINVAL,
              "the file in it still is not the user's");
}
