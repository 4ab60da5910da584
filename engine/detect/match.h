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
 * Builds a ruleset from rules (moved out of *rules). A rule with a pattern
 * that neither Hyperscan nor PCRE2 accepts is refused through `refuse` and
 * left out. Returns CANH_OK, or an error with a sentence in err.
 */
int  canh_ruleset_build(canh_ruleset_t **out, canh_rulevec_t *rules,
                        canh_refuse_fn refuse, void *ud, char *err, size_t errlen);
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

/* Testing aid: forces every pattern through PCRE2 alone (no Hyperscan). */
int canh_ruleset_build_pcre_only(canh_ruleset_t **out, canh_rulevec_t *rules,
                                 canh_refuse_fn refuse, void *ud, char *err, size_t errlen);

#endif
