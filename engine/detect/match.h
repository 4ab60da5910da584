/*
 * engine/detect/match.h -- compiled rule sets and per-thread matchers.
 *
 * canh_ruleset_build() compiles every PATTERN atom of every rule into
 * Hyperscan databases, one per canh field, so one scan of a field serves all
 * rules. A pattern Hyperscan cannot compile exactly goes in with
 * HS_FLAG_PREFILTER and each hit is confirmed by PCRE2 (JIT, match limit);
 * a pattern it cannot take even so is run by PCRE2 alone. EXISTS, EMPTY,
 * CIDR, NUM and FIELDREF atoms are tested directly.
 *
 * canh_matcher_match() scans the fields of one event, records hit atoms
 * (the Hyperscan callback only sets bits), and evaluates the condition of
 * only those rules that had a hit or that can match without one (a rule
 * with only non-pattern atoms, or a `not` at the top). Rules are also
 * filtered by dataset: an sshd rule never sees a web log.
 *
 * Ownership: the ruleset takes the rules from the vector (leaving it empty)
 * and is immutable and shareable after build. A matcher (Hyperscan scratch,
 * PCRE2 match data, hit stamps) belongs to one thread.
 */
#ifndef CANH_MATCH_H
#define CANH_MATCH_H

#include "sigma.h"

typedef struct canh_ruleset canh_ruleset_t;
typedef struct canh_matcher canh_matcher_t;

/*
 * Builds a ruleset from rules (moved out of *rules, which is left empty;
 * also on error, when the rules are freed). A rule with a pattern PCRE2
 * does not accept, or a malformed condition tree, is refused through
 * `refuse` (may be NULL) and left out; the others load. Returns CANH_OK, or
 * an error with a sentence in err.
 *
 * Field names: an atom whose field_id is CANH_F_DYNAMIC but whose name is a
 * static field is treated as that static field, as events do. A rule only
 * sees events whose datasets intersect rule->datasets (0 = never).
 */
int  canh_ruleset_build(canh_ruleset_t **out, canh_rulevec_t *rules,
                        canh_refuse_fn refuse, void *ud, char *err, size_t errlen);
/*
 * Build options. cache_dir: compiled Hyperscan databases are kept there,
 * keyed by a SHA-256 of Hyperscan's version, the platform and the exact
 * patterns, each file bound to its key, and reused when the rules have not
 * changed (the folder is made if missing, and refused when another user
 * could write it: canh_dir_private).
 */
typedef struct canh_build_opts {
    const char *cache_dir;
} canh_build_opts_t;

int  canh_ruleset_build_with(canh_ruleset_t **out, canh_rulevec_t *rules,
                             const canh_build_opts_t *opts, canh_refuse_fn refuse, void *ud,
                             char *err, size_t errlen);
void canh_ruleset_free(canh_ruleset_t *rs);

size_t             canh_ruleset_size(const canh_ruleset_t *rs);
const canh_rule_t *canh_ruleset_rule(const canh_ruleset_t *rs, uint32_t idx);

typedef struct canh_ruleset_info {
    size_t rules;        /* rules in the set */
    size_t atoms;        /* all atoms */
    size_t hs_exact;     /* patterns Hyperscan matches exactly */
    size_t hs_prefilter; /* patterns Hyperscan prefilters, PCRE2 confirms */
    size_t pcre_only;    /* patterns only PCRE2 runs */
    size_t direct;       /* EXISTS/EMPTY/CIDR/NUM/FIELDREF atoms */
    size_t databases;    /* Hyperscan databases (one per field) */
    size_t always_eval;  /* rules evaluated on every event of their datasets */
    size_t cache_hits;   /* databases loaded from the cache instead of compiled */
    size_t cache_refused;   /* cache files refused (damaged, made for other rules or
                               another Hyperscan or machine) and compiled again */
} canh_ruleset_info_t;

void canh_ruleset_info(const canh_ruleset_t *rs, canh_ruleset_info_t *info);

canh_matcher_t *canh_matcher_new(const canh_ruleset_t *rs, char *err, size_t errlen);
void            canh_matcher_free(canh_matcher_t *m);

/*
 * Matches one event. Writes the indexes of matching rules (ascending) to
 * out, at most max of them; returns how many rules matched (which may be
 * more than max) or a negative error.
 */
int canh_matcher_match(canh_matcher_t *m, const canh_event_t *ev,
                       uint32_t *out, size_t max);

/*
 * Errors met while matching (a PCRE2 run over its match limit, a Hyperscan
 * scan error) since the matcher was made. Each counts as "no match" for
 * that atom; matching goes on.
 */
uint64_t canh_matcher_errors(const canh_matcher_t *m);

/*
 * PCRE2 limits (rules.pcre2_match_limit, rules.pcre2_depth_limit): the
 * matchers made from now on use them (0: the default). A run that reaches
 * one cannot decide: its pattern counts as "no match" for that event.
 */
#define CANH_PCRE2_MATCH_LIMIT 100000u   /* backtracking steps per PCRE2 run */
#define CANH_PCRE2_DEPTH_LIMIT 5000u     /* nesting (interpreter only; JIT: its stack) */
void canh_match_set_pcre2_limits(uint32_t match_limit, uint32_t depth_limit);

/*
 * The rules that could not decide on some event because a PCRE2 run of one
 * of their patterns failed (a limit reached, or any other PCRE2 error),
 * since the last call: fn gets each rule's index, how many events, and the
 * PCRE2 error code of the first; the counts are then reset. The worker
 * calls it once per batch (cold: nothing is called when nothing failed).
 */
typedef void (*canh_limit_fn)(void *ud, uint32_t rule_idx, uint64_t events, int pcre2_rc);
void canh_matcher_take_limits(canh_matcher_t *m, canh_limit_fn fn, void *ud);
/* "the match limit (rules.pcre2_match_limit)", or PCRE2's message for rc. */
const char *canh_pcre2_error_text(int rc, char *buf, size_t len);

/*
 * Why a rule did or did not fire on an event (canh explain, canh.matched
 * in alerts). Cold path: nothing of it runs unless asked, and the match
 * path does no extra work for it.
 *
 * canh_matcher_explain() reports, for the event last given to
 * canh_matcher_match() on this matcher (call it again otherwise), every
 * atom of rule rule_idx, in the rule's atom order, through fn: its truth
 * as the matcher decided it (Hyperscan hit stamps, PCRE2 confirmations,
 * the direct tests), and the event value that shows it, found by running
 * the atom's own PCRE2 code on the same text views the matcher scans
 * (NFC, case-folded, the UTF twin) or by the same direct test.
 *
 * Returns CANH_EXPLAIN_FIRED or CANH_EXPLAIN_NOT_FIRED, the matcher's own
 * verdict for the rule on this event; CANH_EXPLAIN_UNSEEN (no atom
 * reported) when the rule does not see the event's datasets; CANH_EINVAL
 * for bad arguments or an event that is not the one last matched.
 * Matcher error counts are left as they were.
 */
#define CANH_EXPLAIN_NOT_FIRED 0
#define CANH_EXPLAIN_FIRED     1
#define CANH_EXPLAIN_UNSEEN    2

typedef struct canh_explain_atom {
    uint32_t atom;        /* index into the rule's atoms */
    int truth;            /* the matcher's truth for this event: 1 or 0 */
    int shown;            /* 1: `field` (or, for EMPTY, the field's absence) shows
                             that truth; 0: the value search disagrees with the
                             matcher (a bug to report, never to hide) */
    int32_t field;        /* index into ev->fields of the value that made the atom
                             true; -1: none (false, or absent for EMPTY) */
    int32_t ref_field;    /* FIELDREF: the other field's equal value; else -1 */
    int32_t first;        /* a value of the atom's field, to show when false; -1: absent */
    uint32_t nvalues;     /* how many values the event has for the atom's field */
} canh_explain_atom_t;

typedef void (*canh_explain_fn)(void *ud, const canh_explain_atom_t *a);

int canh_matcher_explain(canh_matcher_t *m, const canh_event_t *ev, uint32_t rule_idx,
                         canh_explain_fn fn, void *ud);

/*
 * Testing aid: the reference implementation. Every pattern runs through
 * PCRE2 alone (no Hyperscan) and every rule is evaluated on every event of
 * its datasets. Same answers as canh_ruleset_build, more slowly.
 */
int canh_ruleset_build_pcre_only(canh_ruleset_t **out, canh_rulevec_t *rules,
                                 canh_refuse_fn refuse, void *ud, char *err, size_t errlen);

/* How a pattern is run (hs_mode below). */
#define CANH_HS_EXACT     0   /* Hyperscan alone */
#define CANH_HS_PREFILTER 1   /* Hyperscan prefilter, PCRE2 confirms */
#define CANH_HS_PCRE_ONLY 2   /* PCRE2 alone */

/*
 * Calls fn once per PATTERN atom of every rule (rules in index order, atoms
 * in rule order): the atom's field name, regex, CANH_PAT_* flags, how it is
 * run, and its rule's index. For benchmarks and `rules check`.
 */
int canh_ruleset_patterns(const canh_ruleset_t *rs,
                          void (*fn)(void *ud, const char *field, const char *regex,
                                     unsigned pat_flags, int hs_mode, uint32_t rule_idx),
                          void *ud);

#endif
