/*
 * engine/load.c -- loads the field map and rules, applies the Sigma
 * filters found with them, builds the rule set, and binds a suppression
 * list to it (see load.h). Runs at start-up, single-threaded, or on the
 * reload thread.
 */
#include "load.h"

#include "../sinks/alert.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *canh_home(void)
{
    static char home[PATH_MAX];
    if (home[0])
        return home;
    const char *env = getenv("CANH_HOME");
    if (env && *env) {
        snprintf(home, sizeof(home), "%s", env);
        return home;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* build/canh -> the repo root is the parent of the binary's folder */
        char *dir = dirname(exe);
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s/../conf/fieldmap.yml", dir);
        if (access(cand, R_OK) == 0) {
            snprintf(cand, sizeof(cand), "%s/..", dir);
            if (realpath(cand, home))
                return home;
        }
    }
    snprintf(home, sizeof(home), ".");
    return home;
}

/*
 * The pack a rule path is (rule.ruleset): "canh" for the shipped rules/
 * folder, else the folder's own name ("sigma" for .../rules/sigma), or a
 * file's name without .yml/.yaml. Malloc'd; NULL when out of memory.
 */
static char *pack_name(const char *path, int *is_dir)
{
    struct stat st;
    char real[PATH_MAX], shipped[PATH_MAX + 16], shipped_real[PATH_MAX];
    *is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!realpath(path, real))
        snprintf(real, sizeof(real), "%s", path);
    snprintf(shipped, sizeof(shipped), "%s/rules", canh_home());
    if (*is_dir && realpath(shipped, shipped_real) && strcmp(real, shipped_real) == 0)
        return strdup("canh");
    size_t n = strlen(real);
    while (n > 1 && real[n - 1] == '/')
        real[--n] = '\0';
    const char *base = strrchr(real, '/');
    base = base && base[1] ? base + 1 : real;
    n = strlen(base);
    if (!*is_dir) {
        if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
            n -= 4;
        else if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
            n -= 5;
    }
    return strndup(base, n);
}

/* Names the pack of rules v[from, to), loaded from path, and each rule's
 * file inside it. */
static int name_pack(canh_rulevec_t *rv, size_t from, const char *path)
{
    int is_dir;
    char *pack = pack_name(path, &is_dir);
    if (!pack)
        return CANH_ENOMEM;
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    for (size_t i = from; i < rv->n; i++) {
        canh_rule_t *r = rv->v[i];
        const char *f = r->file ? r->file : "";
        if (is_dir && strncmp(f, path, plen) == 0 && f[plen] == '/')
            f += plen + 1;
        else if (!is_dir && strrchr(f, '/'))
            f = strrchr(f, '/') + 1;
        free(r->ruleset);
        free(r->pack_file);
        r->ruleset = strdup(pack);
        r->pack_file = strdup(f);
        if (!r->ruleset || !r->pack_file) {
            free(pack);
            return CANH_ENOMEM;
        }
    }
    free(pack);
    return CANH_OK;
}

/* Network rules of one path: loaded, named (pack, file) and prepared
 * for alerts like Sigma rules. */
static int load_nids(canh_load_result_t *out, const char *path, const canh_nids_vars_t *vars,
                     canh_refuse_fn refuse, void *ud, char *err, size_t errlen)
{
    size_t from = out->nids.n;
    int rc = canh_nids_load_path(path, vars, &out->nids, refuse, ud, &out->nids_loaded,
                                 &out->nids_refused, err, errlen);
    if (rc != CANH_OK)
        return rc;
    int is_dir;
    char *pack = pack_name(path, &is_dir);
    if (!pack)
        return CANH_ENOMEM;
    if (!is_dir) {   /* a file: its name without .rules */
        size_t n = strlen(pack);
        if (n > 6 && !strcmp(pack + n - 6, ".rules"))
            pack[n - 6] = '\0';
    }
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    for (size_t i = from; i < out->nids.n; i++) {
        canh_rule_t *r = out->nids.v[i]->alert_rule;
        const char *f = r->file ? r->file : "";
        if (is_dir && strncmp(f, path, plen) == 0 && f[plen] == '/')
            f += plen + 1;
        else if (!is_dir && strrchr(f, '/'))
            f = strrchr(f, '/') + 1;
        free(r->ruleset);
        free(r->pack_file);
        r->ruleset = strdup(pack);
        r->pack_file = strdup(f);
        if (!r->ruleset || !r->pack_file || canh_alert_prepare(r) != CANH_OK) {
            free(pack);
            return CANH_ENOMEM;
        }
    }
    free(pack);
    return CANH_OK;
}

canh_nids_vars_t *canh_load_nids_vars(const canh_config_t *cfg, char *err, size_t errlen)
{
    canh_nids_vars_t *v = canh_nids_vars_default();
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg && cfg->network.classification
        && canh_nids_vars_classes(v, cfg->network.classification, err, errlen) != CANH_OK) {
        canh_nids_vars_free(v);
        return NULL;
    }
    for (size_t i = 0; cfg && i + 1 < cfg->network.vars.n; i += 2)
        if (canh_nids_vars_set(v, cfg->network.vars.v[i], cfg->network.vars.v[i + 1], err,
                               errlen) != CANH_OK) {
            canh_nids_vars_free(v);
            return NULL;
        }
    if (canh_nids_vars_check(v, err, errlen) != CANH_OK) {
        canh_nids_vars_free(v);
        return NULL;
    }
    return v;
}

int canh_load_rules(const char *const *paths, size_t npaths, const char *fieldmap_path,
                    const char *cache_dir, canh_refuse_fn refuse, void *ud,
                    canh_load_result_t *out, char *err, size_t errlen)
{
    return canh_load_rules_net(paths, npaths, fieldmap_path, cache_dir, NULL, refuse, ud, out,
                               err, errlen);
}

int canh_load_rules_net(const char *const *paths, size_t npaths, const char *fieldmap_path,
                        const char *cache_dir, const canh_nids_vars_t *vars,
                        canh_refuse_fn refuse, void *ud, canh_load_result_t *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = canh_fieldmap_load(&out->fieldmap, fieldmap_path, err, errlen);
    if (rc != CANH_OK)
        return rc;
    canh_nids_vars_t *defvars = NULL;
    if (!vars && !(vars = defvars = canh_nids_vars_default())) {
        snprintf(err, errlen, "out of memory");
        canh_load_result_free(out);
        return CANH_ENOMEM;
    }

    canh_rulevec_t rv = { 0 };
    for (size_t i = 0; i < npaths; i++) {
        size_t from = rv.n;
        struct stat st;
        int is_dir = stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode);
        if (canh_nids_is_rules_path(paths[i]) || is_dir) {
            rc = load_nids(out, paths[i], vars, refuse, ud, err, errlen);
            if (rc == CANH_ENOMEM && !err[0])
                snprintf(err, errlen, "out of memory loading the network rules of '%s'", paths[i]);
            if (rc != CANH_OK) {
                canh_nids_vars_free(defvars);
                canh_rulevec_free(&rv);
                canh_load_result_free(out);
                return rc;
            }
            if (!is_dir)
                continue;
        }
        rc = canh_sigma_load_path(out->fieldmap, paths[i], &rv, refuse, ud,
                                  &out->loaded, &out->refused, err, errlen);
        if (rc == CANH_OK && name_pack(&rv, from, paths[i]) != CANH_OK) {
            snprintf(err, errlen, "out of memory naming the rule pack of '%s'", paths[i]);
            rc = CANH_ENOMEM;
        }
        if (rc != CANH_OK) {
            canh_nids_vars_free(defvars);
            canh_rulevec_free(&rv);
            canh_load_result_free(out);
            return rc;
        }
    }
    canh_nids_vars_free(defvars);
    if (canh_sigma_apply_filters(out->fieldmap, &rv, refuse, ud) != CANH_OK) {
        snprintf(err, errlen, "out of memory applying the Sigma filters");
        canh_rulevec_free(&rv);
        canh_load_result_free(out);
        return CANH_ENOMEM;
    }
    out->filters = rv.filters;   /* moved: they say what they touched */
    out->nfilters = rv.nfilters;
    out->filter_problems = rv.filter_problems;
    rv.filters = NULL;
    rv.nfilters = rv.filters_cap = 0;
    for (size_t i = 0; i < rv.n; i++)
        if (canh_alert_prepare(rv.v[i]) != CANH_OK) {
            snprintf(err, errlen, "out of memory preparing rule %s", rv.v[i]->id);
            canh_rulevec_free(&rv);
            canh_load_result_free(out);
            return CANH_ENOMEM;
        }
    size_t before = rv.n;
    /* the build makes the cache folder (0700) and checks it (canh_dir_private) */
    canh_build_opts_t bo = { .cache_dir = cache_dir };
    rc = canh_ruleset_build_with(&out->rules, &rv, &bo, refuse, ud, err, errlen);
    canh_rulevec_free(&rv);
    if (rc != CANH_OK) {
        canh_load_result_free(out);
        return rc;
    }
    /* Rules the compiler refused were reported; move them from loaded to refused. */
    size_t built = canh_ruleset_size(out->rules);
    if (built < before) {
        out->refused += before - built;
        out->loaded -= before - built;
    }
    return CANH_OK;
}

void canh_load_result_free(canh_load_result_t *r)
{
    if (r->rules)
        canh_ruleset_free(r->rules);
    if (r->fieldmap)
        canh_fieldmap_free(r->fieldmap);
    for (size_t i = 0; i < r->nfilters; i++)
        canh_filter_free(r->filters[i]);
    free(r->filters);
    canh_suppress_free(r->suppress);
    canh_nids_rulevec_free(&r->nids);
    memset(r, 0, sizeof(*r));
}

int canh_load_suppress(canh_load_result_t *r, const char *path, int64_t now_ms,
                       canh_suppress_msg_fn fn, void *ud, char *err, size_t errlen)
{
    canh_suppress_t *s;
    int rc = canh_suppress_load(&s, path, r->rules, now_ms, fn, ud, err, errlen);
    if (rc != CANH_OK)
        return rc;
    canh_suppress_free(r->suppress);
    r->suppress = s;
    return CANH_OK;
}
