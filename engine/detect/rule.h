/*
 * engine/detect/rule.h -- a loaded rule, before it is compiled.
 *
 * The Sigma loader (sigma.c) turns YAML into this model; the compiler
 * (match.c) turns a set of these into Hyperscan databases. A rule's
 * detection is a tree of AND/OR/NOT nodes over atoms; an atom is one test of
 * one field:
 *
 *   PATTERN  a regex (PCRE syntax) on the field's value. Every Sigma value
 *            becomes one: contains/startswith/endswith/equals/wildcards are
 *            escaped literals with anchors (\A, \z), `re` is the user's
 *            regex, base64/base64offset/windash expand to alternatives.
 *            Compiled into Hyperscan; PCRE2 confirms what Hyperscan can only
 *            prefilter.
 *   EXISTS   the field is present (`|exists: true`; negate with NOT).
 *   EMPTY    the field is absent or empty (Sigma `field: null`).
 *   CIDR     the value is an IP inside a network.
 *   NUM      the value is a number and compares (gt/gte/lt/lte) to `num`.
 *   FIELDREF the value equals the value of another field (`|fieldref`).
 *
 * Selections are expanded into the tree at load time: a map is AND over its
 * keys, a list of maps OR, a value list OR (AND with `|all`), a keyword list
 * OR over the log source's keyword field. `1 of sel*` and `all of them` are
 * expanded too, so the compiler only sees ATOM/AND/OR/NOT.
 *
 * Ownership: the rule owns every string and node (all malloc'd); free with
 * canh_rule_free. Thread: built at load time, read-only afterwards.
 */
#ifndef CANH_RULE_H
#define CANH_RULE_H

#include "../canh.h"
#include "../event.h"

typedef enum canh_level {
    CANH_LEVEL_NONE = 0,
    CANH_LEVEL_INFORMATIONAL = 1,
    CANH_LEVEL_LOW = 2,
    CANH_LEVEL_MEDIUM = 3,
    CANH_LEVEL_HIGH = 4,
    CANH_LEVEL_CRITICAL = 5
} canh_level_t;

const char *canh_level_name(canh_level_t l);          /* "high" */
canh_level_t canh_level_parse(const char *s);         /* CANH_LEVEL_NONE if unknown */

typedef enum canh_atom_kind {
    CANH_ATOM_PATTERN = 0,
    CANH_ATOM_EXISTS,
    CANH_ATOM_EMPTY,
    CANH_ATOM_CIDR,
    CANH_ATOM_NUM,
    CANH_ATOM_FIELDREF
} canh_atom_kind_t;

/*
 * Pattern flags. CASELESS, DOTALL, MULTILINE map onto HS_FLAG_* / PCRE2_*.
 * The rest say which view of a value the pattern runs on (engine/text.h):
 *   FOLD   a Sigma literal the loader case-folded: runs on the folded view
 *          (with CASELESS for ASCII letters); anything else runs on NFC;
 *   UTF    compiled in UTF-8 mode with Unicode properties (a regex that is
 *          not ASCII, or asked for (*UTF));
 *   REGEX  the user's own regex (`re`), not one the loader made: the
 *          compiler gives it a UTF twin for non-ASCII values when its
 *          meaning depends on the mode (`.`, `\w`, `[^...]`, caseless ...).
 */
#define CANH_PAT_CASELESS  0x1
#define CANH_PAT_DOTALL    0x2
#define CANH_PAT_MULTILINE 0x4
#define CANH_PAT_FOLD      0x8
#define CANH_PAT_UTF       0x10
#define CANH_PAT_REGEX     0x20

typedef enum canh_num_op { CANH_NUM_GT, CANH_NUM_GTE, CANH_NUM_LT, CANH_NUM_LTE } canh_num_op_t;

typedef struct canh_atom {
    canh_atom_kind_t kind;
    uint16_t field_id;      /* canh_field_id_t, or CANH_F_DYNAMIC (then use field) */
    char    *field;         /* canh field name (after mapping); always set */
    /* PATTERN */
    char    *regex;         /* PCRE syntax, NUL-terminated */
    unsigned pat_flags;     /* CANH_PAT_* */
    /* CIDR */
    int      family;        /* 4 or 6 */
    uint8_t  net[16];
    int      prefix;
    /* NUM */
    canh_num_op_t op;
    double   num;
    /* FIELDREF */
    char    *ref_field;
    uint16_t ref_field_id;
    int      line;          /* YAML line of the value, for messages */
    int      keyword;       /* from a keyword list: on an event decoded from a
                               JSON payload it searches the payload's values */
    /* Provenance, in the rule's own words, for explanations (canh explain,
     * canh.matched in alerts). Set by the Sigma loader; NULL in atoms made
     * otherwise. */
    char    *selection;     /* the selection it belongs to ("filter") */
    char    *sigma_field;   /* the key as written ("CommandLine|contains|all"),
                               or "keywords" for a keyword list */
    char    *sigma_value;   /* the value as written ("wget"; "null") */
} canh_atom_t;

typedef enum canh_node_op { CANH_NODE_ATOM, CANH_NODE_AND, CANH_NODE_OR, CANH_NODE_NOT } canh_node_op_t;

typedef struct canh_node {
    canh_node_op_t op;
    uint32_t atom;               /* ATOM: index into rule->atoms */
    uint32_t nkids;              /* AND/OR: >= 1; NOT: 1 */
    struct canh_node **kids;
} canh_node_t;

/* One selection of a rule's detection, by name, with its expanded tree. */
typedef struct canh_selection {
    char *name;
    canh_node_t *tree;
} canh_selection_t;

/*
 * Evaluates a tree given the truth of its leaves (leaf[n->atom] != 0 is
 * true). For explanations; the matcher has its own flattened form.
 */
int canh_node_eval(const canh_node_t *n, const uint8_t *leaf);

typedef struct canh_rule {
    /* identity and description, as written */
    char *id;            /* Sigma id (UUID), or the title if the rule has none */
    char *name;          /* Sigma `name` (unique, for filters to refer to), or NULL */
    char *title;
    char *status;
    char *description;
    char *author;
    char *date;
    char *modified;
    char **references;  size_t nreferences;
    char **tags;        size_t ntags;
    char **falsepositives; size_t nfalsepositives;
    canh_level_t level;

    /* where it came from */
    char *file;
    int   line;          /* line of the document start (or `title:`) */
    char *ruleset;       /* the pack it belongs to (rule.ruleset; engine/load.c), or NULL */
    char *pack_file;     /* its file inside the pack (canh.rule.file), or NULL */

    /* log source, as written, and what it maps to */
    char *product, *category, *service;
    uint64_t datasets;   /* events this rule may see (CANH_DS_BIT mask) */

    /* detection */
    canh_node_t *cond;
    canh_atom_t *atoms;  size_t natoms;

    /* The detection in the rule's own words, for explanations: the
     * condition as written (a condition list joined with " or "), each
     * selection the condition uses with its tree over atoms, and the
     * condition as a tree whose ATOM leaves index sels (not atoms). Set by
     * the Sigma loader; NULL / 0 in rules made otherwise. */
    char *condition;
    canh_selection_t *sels; size_t nsels;
    canh_node_t *sel_cond;

    /* samples under canh: {tests: {match: [...], nomatch: [...]}} */
    char **match_samples;   size_t nmatch_samples;
    char **nomatch_samples; size_t nnomatch_samples;

    /* Sigma filters ANDed into cond (filter.c), as "ID (FILE:LINE)", for
     * messages (`canh rules test` names them when a sample fails) */
    char **filters;         size_t nfilters;

    /* The rule's part of every alert it raises ("rule":{...},"threat":{...}),
     * rendered once at load time by canh_alert_prepare (sinks/alert.c);
     * NULL until then. */
    char *alert_json; size_t alert_json_len;
} canh_rule_t;

void canh_rule_free(canh_rule_t *r);   /* frees contents and r itself */

#endif
