/*
 * tests/test_follow.c -- files followed like `tail -F`: appends and held
 * partial lines, rotation by rename (with late writes to the old file) and
 * by copytruncate, files that appear later (by name and by glob), saved
 * offsets across a restart, a replaced file, a corrupt state file, 10 MiB
 * lines, start_at, read errors, the per-call budget and bad options; a
 * symbolic link planted where the state is written (nothing written
 * through it, the error names it) and a state_dir another user could write
 * (refused). Each test works in its own directory under /tmp.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/input/follow.h"

typedef struct got {
    char **lines;
    size_t n, cap;
    size_t stop_at;   /* return -7 after this many lines (0: never) */
} got_t;

static int collect(void *ud, const char *line, size_t len)
{
    got_t *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->lines = realloc(g->lines, g->cap * sizeof(char *));
    }
    char *s = malloc(len + 1);
    memcpy(s, line, len);
    s[len] = '\0';
    g->lines[g->n++] = s;
    return g->stop_at && g->n == g->stop_at ? -7 : 0;
}

static void got_reset(got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->lines[i]);
    g->n = 0;
}

static void got_free(got_t *g)
{
    got_reset(g);
    free(g->lines);
}

/* Asserts the lines delivered since the last reset, then resets. */
#define EXPECT(g, ...) expect(g, __LINE__, (const char *[]){ __VA_ARGS__, NULL })
static void expect(got_t *g, int at_line, const char **want)
{
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < n && i < g->n; i++)
        cr_assert_str_eq(g->lines[i], want[i], "test line %d: line %zu", at_line, i + 1);
    cr_assert_eq(g->n, n, "test line %d: %zu lines delivered, %zu expected", at_line, g->n, n);
    got_reset(g);
}

#define EXPECT_NONE(g) cr_assert_eq((g)->n, 0, "%zu lines delivered, none expected", (g)->n)

/* Polls until everything was read. */
static void drain(canh_follow_t *f, got_t *g)
{
    int rc, turns = 0;
    while ((rc = canh_follow_poll(f, collect, g, 1 << 20)) == 1)
        cr_assert_lt(++turns, 1000);
    cr_assert_eq(rc, 0);
}

static char dir[] = "/tmp/canh-follow-XXXXXX";
static char err[512];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(follow, .init = setup, .fini = teardown);

/* dir/name, in one of 64 static buffers (more than a test uses). */
static const char *at(const char *name)
{
    static char bufs[64][256];
    static int k;
    cr_assert_lt(k, 64);
    char *b = bufs[k++];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}

static void put(const char *path, const char *mode, const char *text)
{
    FILE *fp = fopen(path, mode);
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    cr_assert_eq(fclose(fp), 0);
}

static canh_follow_opts_t opts(const char *const *patterns, size_t n)
{
    return (canh_follow_opts_t){ .name = "t", .patterns = patterns, .npatterns = n,
                                 .start_at_beginning = 1, .max_msg = 64 << 10,
                                 .oversize = CANH_FRAME_TRUNCATE };
}

static canh_follow_t *follow(const canh_follow_opts_t *o)
{
    canh_follow_t *f = canh_follow_new(o, err, sizeof(err));
    cr_assert_not_null(f, "%s", err);
    return f;
}

static canh_follow_counts_t counts(const canh_follow_t *f)
{
    canh_follow_counts_t c;
    canh_follow_counts(f, &c);
    return c;
}

/* stderr into a file, to check canh's warnings. */
static int saved_stderr = -1;

static void capture(void)
{
    fflush(stderr);
    int fd = open(at("stderr"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *captured(void)
{
    static char text[8192];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *fp = fopen(at("stderr"), "r");
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

Test(follow, appended_lines_once_in_order_and_partial_lines_held)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a", "b");
    drain(f, &g);
    EXPECT_NONE(&g);

    put(paths[0], "a", "c\n\npar");
    drain(f, &g);
    EXPECT(&g, "c");   /* the empty line is skipped, "par" waits for its newline */
    put(paths[0], "a", "tial\r\nd\n");
    drain(f, &g);
    EXPECT(&g, "partial", "d");

    canh_follow_counts_t c = counts(f);
    cr_assert_eq(c.lines, 5);
    cr_assert_eq(c.bytes, 18);
    cr_assert_eq(c.files, 1);
    cr_assert_eq(c.rotations + c.truncations + c.truncated + c.dropped + c.read_errors, 0);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, rename_rotation_reads_the_old_file_to_its_end_first)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a", "b");

    /* logrotate renames; the writer has not reopened yet and writes on */
    cr_assert_eq(rename(paths[0], at("app.log.1")), 0);
    put(at("app.log.1"), "a", "c\n");
    drain(f, &g);
    EXPECT(&g, "c");
    put(at("app.log.1"), "a", "d\npart");
    /* the writer reopens: the new file has lines; the old one's unfinished
     * line is all it will ever get */
    put(paths[0], "w", "e\n");
    drain(f, &g);
    EXPECT(&g, "d", "part", "e");
    put(at("app.log.1"), "a", "late\n");
    put(paths[0], "a", "f\n");
    drain(f, &g);
    EXPECT(&g, "f");

    canh_follow_counts_t c = counts(f);
    cr_assert_eq(c.rotations, 1);
    cr_assert_eq(c.truncations, 0);
    cr_assert_eq(c.files, 1);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, copytruncate_reads_again_from_the_start)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a", "b");
    cr_assert_eq(truncate(paths[0], 0), 0);
    put(paths[0], "a", "c\n");
    drain(f, &g);
    EXPECT(&g, "c");
    cr_assert_eq(counts(f).truncations, 1);
    cr_assert_eq(counts(f).rotations, 0);
    got_free(&g);
    canh_follow_free(f);
}

/* The writer wrote more than was read before the truncation was seen: the
 * file never looked shorter, only its first bytes tell. */
Test(follow, copytruncate_then_regrown_past_the_offset_reads_again_from_the_start)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "old line 1\nold line 2\n");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "old line 1", "old line 2");
    put(paths[0], "w", "new line 1 is longer\nnew line 2\n");   /* truncate, then write */
    drain(f, &g);
    EXPECT(&g, "new line 1 is longer", "new line 2");
    cr_assert_eq(counts(f).truncations, 1);
    put(paths[0], "a", "new line 3\n");   /* appending is not a truncation */
    drain(f, &g);
    EXPECT(&g, "new line 3");
    cr_assert_eq(counts(f).truncations, 1);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, a_file_created_later_or_recreated_is_read_from_its_start)
{
    const char *paths[] = { at("late.log") };
    canh_follow_opts_t o = opts(paths, 1);
    o.start_at_beginning = 0;   /* only for files present at start */
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT_NONE(&g);
    cr_assert_eq(counts(f).files, 0);

    put(paths[0], "w", "a\nb\n");
    drain(f, &g);
    EXPECT(&g, "a", "b");

    cr_assert_eq(unlink(paths[0]), 0);
    put(paths[0], "w", "c\n");
    drain(f, &g);
    EXPECT(&g, "c");
    cr_assert_eq(counts(f).rotations, 1);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, glob_picks_up_new_files)
{
    const char *paths[] = { at("*.log") };
    put(at("a.log"), "w", "a1\n");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a1");

    put(at("b.log"), "w", "b1\n");
    put(at("c.txt"), "w", "not followed\n");
    cr_assert_eq(mkdir(at("d.log"), 0700), 0);   /* a directory is no log file */
    usleep(1100 * 1000);   /* patterns are expanded again once a second */
    drain(f, &g);
    EXPECT(&g, "b1");
    canh_follow_counts_t c = counts(f);
    cr_assert_eq(c.files, 2);
    cr_assert_eq(c.read_errors, 0);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, resumes_from_the_saved_offset_without_loss_or_repeat)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    canh_follow_opts_t o = opts(paths, 1);
    o.state_dir = at("state");
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    put(paths[0], "a", "c\npar");
    drain(f, &g);
    EXPECT(&g, "a", "b", "c");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    canh_follow_free(f);
    cr_assert_eq(access(at("state/follow-t.state"), R_OK), 0);
    cr_assert_neq(access(at("state/follow-t.state.tmp"), F_OK), 0);

    /* written while canh was stopped */
    put(paths[0], "a", "tial\nd\n");
    o.start_at_beginning = 0;   /* the saved offset wins over start_at */
    f = follow(&o);
    drain(f, &g);
    EXPECT(&g, "partial", "d");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    canh_follow_free(f);

    f = follow(&o);
    put(paths[0], "a", "e\n");
    drain(f, &g);
    EXPECT(&g, "e");
    got_free(&g);
    canh_follow_free(f);
}

/* Offsets saved in two steps (as the daemon does under load): what is
 * written is the mark as it was taken, not the offsets at writing time,
 * so a restart reads again what came after the mark. */
Test(follow, a_mark_is_saved_as_it_was_taken)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    canh_follow_opts_t o = opts(paths, 1);
    o.state_dir = at("state");
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    cr_assert_eq(canh_follow_mark(f), 1, "the file was opened: its offset moved");
    cr_assert_eq(canh_follow_write_mark(f, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_follow_mark(f), 0, "nothing moved since");
    drain(f, &g);
    EXPECT(&g, "a", "b");
    cr_assert_eq(canh_follow_mark(f), 1);
    put(paths[0], "a", "c\n");
    drain(f, &g);
    EXPECT(&g, "c");
    cr_assert_eq(canh_follow_mark(f), 1, "the pending mark stays as it was");
    cr_assert_eq(canh_follow_write_mark(f, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_follow_write_mark(f, err, sizeof(err)), CANH_OK, "no mark: nothing to do");
    cr_assert_eq(canh_follow_mark(f), 1, "c moved the offset after the mark");
    canh_follow_free(f);   /* a crash: that mark is never written */

    o.start_at_beginning = 1;   /* the saved offset wins */
    f = follow(&o);
    drain(f, &g);
    EXPECT(&g, "c");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    canh_follow_free(f);
    f = follow(&o);
    drain(f, &g);
    EXPECT_NONE(&g);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, a_file_replaced_in_place_is_read_from_its_start)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "aaa\nbbb\n");
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    canh_follow_opts_t o = opts(paths, 1);
    o.state_dir = at("state");
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "aaa", "bbb");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    canh_follow_free(f);

    /* same inode, longer than the saved offset: only the first bytes tell */
    struct stat before, after;
    cr_assert_eq(stat(paths[0], &before), 0);
    put(paths[0], "w", "xxx\nyyy\nzzz\n");
    cr_assert_eq(stat(paths[0], &after), 0);
    cr_assert_eq(before.st_ino, after.st_ino);
    o.start_at_beginning = 0;
    f = follow(&o);
    drain(f, &g);
    EXPECT(&g, "xxx", "yyy", "zzz");
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, a_corrupt_state_file_is_named_and_ignored)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "old\n");
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    put(at("state/follow-web_1.state"), "w", "# canh follow state 1\n12 34 not-a-number\n");
    canh_follow_opts_t o = opts(paths, 1);
    o.name = "web/1";
    o.state_dir = at("state");
    o.start_at_beginning = 0;
    capture();
    canh_follow_t *f = canh_follow_new(&o, err, sizeof(err));
    const char *text = captured();
    cr_assert_not_null(f, "%s", err);
    char want[512];
    snprintf(want, sizeof(want), "%s:2: not a saved offset", at("state/follow-web_1.state"));
    cr_assert_not_null(strstr(text, want), "stderr: %s", text);

    got_t g = { 0 };
    drain(f, &g);
    EXPECT_NONE(&g);   /* start_at end, as if nothing was saved */
    put(paths[0], "a", "new\n");
    drain(f, &g);
    EXPECT(&g, "new");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    canh_follow_free(f);

    capture();
    f = follow(&o);
    cr_assert_str_eq(captured(), "", "the state file is whole again");
    put(paths[0], "a", "newer\n");
    drain(f, &g);
    EXPECT(&g, "newer");
    got_free(&g);
    canh_follow_free(f);
}

/* "a\n", 10 MiB of 'x' without a newline, then (later) "\nb\n". */
static void ten_mib_line(int oversize, got_t *g, canh_follow_counts_t *c)
{
    const char *paths[] = { at("big.log") };
    size_t big = 10u << 20;
    char *x = malloc(big + 1);
    memset(x, 'x', big);
    x[big] = '\0';
    put(paths[0], "w", "a\n");
    put(paths[0], "a", x);
    free(x);
    canh_follow_opts_t o = opts(paths, 1);
    o.oversize = oversize;
    canh_follow_t *f = follow(&o);
    drain(f, g);
    EXPECT(g, "a");
    put(paths[0], "a", "\nb\n");
    drain(f, g);
    canh_follow_counts(f, c);
    cr_assert_eq(c->bytes, 2 + big + 3);
    canh_follow_free(f);
}

Test(follow, a_10_mib_line_is_truncated)
{
    got_t g = { 0 };
    canh_follow_counts_t c;
    ten_mib_line(CANH_FRAME_TRUNCATE, &g, &c);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(strlen(g.lines[0]), 64 << 10);
    cr_assert_eq(strspn(g.lines[0], "x"), 64 << 10);
    cr_assert_str_eq(g.lines[1], "b");
    cr_assert_eq(c.truncated, 1);
    cr_assert_eq(c.dropped, 0);
    cr_assert_eq(c.lines, 3);
    got_free(&g);
}

Test(follow, a_10_mib_line_is_dropped)
{
    got_t g = { 0 };
    canh_follow_counts_t c;
    ten_mib_line(CANH_FRAME_DROP, &g, &c);
    EXPECT(&g, "b");
    cr_assert_eq(c.dropped, 1);
    cr_assert_eq(c.truncated, 0);
    cr_assert_eq(c.lines, 2);
    got_free(&g);
}

Test(follow, a_line_of_exactly_max_msg_with_crlf_is_whole)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "");
    canh_follow_opts_t o = opts(paths, 1);
    o.max_msg = 8;
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    put(paths[0], "a", "1234");
    drain(f, &g);   /* held across two reads */
    put(paths[0], "a", "5678\r\n123456789\n");
    drain(f, &g);
    EXPECT(&g, "12345678", "12345678");
    cr_assert_eq(counts(f).truncated, 1);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, start_at_end_or_beginning)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "old1\nold2\npar");
    canh_follow_opts_t o = opts(paths, 1);
    o.start_at_beginning = 0;
    canh_follow_t *end = follow(&o);
    o.start_at_beginning = 1;
    canh_follow_t *beg = follow(&o);
    put(paths[0], "a", "tial\nnew\n");
    got_t g = { 0 };
    drain(end, &g);
    EXPECT(&g, "partial", "new");   /* a line being written at start is new */
    drain(beg, &g);
    EXPECT(&g, "old1", "old2", "partial", "new");
    got_free(&g);
    canh_follow_free(end);
    canh_follow_free(beg);
}

Test(follow, an_unreadable_file_is_named_once_and_the_others_go_on)
{
    const char *paths[] = { at("logs"), at("app.log") };
    cr_assert_eq(mkdir(paths[0], 0700), 0);
    put(paths[1], "w", "a\n");
    canh_follow_opts_t o = opts(paths, 2);
    capture();
    canh_follow_t *f = canh_follow_new(&o, err, sizeof(err));
    got_t g = { 0 };
    drain(f, &g);
    put(paths[1], "a", "b\n");
    drain(f, &g);
    const char *text = captured();
    EXPECT(&g, "a", "b");
    char want[512];
    snprintf(want, sizeof(want), "input t: cannot read '%s': not a regular file", paths[0]);
    const char *hit = strstr(text, want);
    cr_assert_not_null(hit, "stderr: %s", text);
    cr_assert_null(strstr(hit + 1, want), "named once: %s", text);
    cr_assert_eq(counts(f).read_errors, 1);
    cr_assert_eq(counts(f).files, 1);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, the_budget_and_a_stop_lose_and_repeat_nothing)
{
    const char *paths[] = { at("a.log"), at("b.log") };
    FILE *fa = fopen(paths[0], "w"), *fb = fopen(paths[1], "w");
    for (int i = 0; i < 1000; i++) {
        fprintf(fa, "a%d\n", i);
        fprintf(fb, "b%d\n", i);
    }
    fclose(fa);
    fclose(fb);
    canh_follow_opts_t o = opts(paths, 2);
    canh_follow_t *f = follow(&o);
    got_t g = { .stop_at = 3 };
    cr_assert_eq(canh_follow_poll(f, collect, &g, 1 << 20), -7);
    g.stop_at = 0;
    int more = 0, rc;
    while ((rc = canh_follow_poll(f, collect, &g, 100)) == 1)
        more++;
    cr_assert_eq(rc, 0);
    cr_assert_gt(more, 50, "100 bytes a call: many calls");
    cr_assert_eq(g.n, 2000);
    int na = 0, nb = 0;
    char want[16];
    for (size_t i = 0; i < g.n; i++) {   /* each file in order, the two interleaved */
        int *k = g.lines[i][0] == 'a' ? &na : &nb;
        snprintf(want, sizeof(want), "%c%d", g.lines[i][0], (*k)++);
        cr_assert_str_eq(g.lines[i], want);
    }
    size_t first_b = 0;
    while (g.lines[first_b][0] != 'b')
        first_b++;
    cr_assert_lt(first_b, 100, "the files take turns");
    cr_assert_eq(counts(f).lines, 2000);
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, the_descriptor_wakes_the_caller_on_append)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "");
    canh_follow_opts_t o = opts(paths, 1);
    canh_follow_t *f = follow(&o);
    int fd = canh_follow_fd(f);
    cr_assert_geq(fd, 0);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 0), 0, "nothing happened yet");
    put(paths[0], "a", "a\n");
    cr_assert_eq(poll(&p, 1, 1000), 1);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a");
    cr_assert_eq(poll(&p, 1, 0), 0, "the poll drained it");
    got_free(&g);
    canh_follow_free(f);
}

Test(follow, bad_options_are_refused_with_a_reason)
{
    const char *paths[] = { at("app.log") }, *empty[] = { "" };
    canh_follow_opts_t o = opts(paths, 1);
    cr_assert_null(canh_follow_new(NULL, err, sizeof(err)));
    o.npatterns = 0;
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    o = opts(paths, 1);
    o.max_msg = 0;
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    o = opts(paths, 1);
    o.oversize = 7;
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    o = opts(empty, 1);
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    cr_assert_str_eq(err, "input t: path 1 is empty");
    o = opts(paths, 1);
    put(paths[0], "w", "");
    o.state_dir = paths[0];
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    char want[512];
    snprintf(want, sizeof(want), "input t: state_dir '%s' is not a folder", paths[0]);
    cr_assert_str_eq(err, want);
}

/* The victim a planted link points at: a file canh must never write. */
#define VICTIM_TEXT "root:x:0:0:root:/root:/bin/bash\n"

static void victim_unchanged(const char *path)
{
    char b[256] = "";
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    size_t n = fread(b, 1, sizeof(b) - 1, fp);
    b[n] = '\0';
    fclose(fp);
    cr_assert_str_eq(b, VICTIM_TEXT, "the file the link points at was written");
}

/* A symbolic link planted as the state's temporary file (the name canh
 * writes before it renames) or as the state file: nothing is written
 * through it, and the error names the path and says it is a link. */
Test(follow, a_link_planted_in_state_dir_is_not_written_through)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\nb\n");
    put(at("victim"), "w", VICTIM_TEXT);
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    cr_assert_eq(symlink(at("victim"), at("state/follow-t.state.tmp")), 0);
    canh_follow_opts_t o = opts(paths, 1);
    o.state_dir = at("state");
    canh_follow_t *f = follow(&o);
    got_t g = { 0 };
    drain(f, &g);
    EXPECT(&g, "a", "b");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_EIO);
    cr_assert(strstr(err, at("state/follow-t.state.tmp")), "%s", err);
    cr_assert(strstr(err, "symbolic link"), "%s", err);
    cr_assert_eq(counts(f).save_errors, 1);
    victim_unchanged(at("victim"));
    struct stat st;
    cr_assert_eq(lstat(at("state/follow-t.state.tmp"), &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link is left for the operator to see");
    canh_follow_free(f);

    /* a link as the state file itself: not read at start (named), and
     * replaced, not written through, by the next save */
    cr_assert_eq(unlink(at("state/follow-t.state.tmp")), 0);
    cr_assert_eq(symlink(at("victim"), at("state/follow-t.state")), 0);
    capture();
    f = follow(&o);
    char *log = captured();
    cr_assert(strstr(log, at("state/follow-t.state")) && strstr(log, "symbolic link"), "%s", log);
    drain(f, &g);
    EXPECT(&g, "a", "b");
    cr_assert_eq(canh_follow_save(f, err, sizeof(err)), CANH_OK, "%s", err);
    victim_unchanged(at("victim"));
    cr_assert_eq(lstat(at("state/follow-t.state"), &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600);
    got_free(&g);
    canh_follow_free(f);
}

/* A state_dir another user could write (where such a link could be
 * planted) is refused, naming the folder, its owner and mode; canh's own
 * (root's, or the effective user's) is taken. */
Test(follow, a_state_dir_others_can_write_is_refused)
{
    const char *paths[] = { at("app.log") };
    put(paths[0], "w", "a\n");
    canh_follow_opts_t o = opts(paths, 1);
    o.state_dir = at("state");
    cr_assert_eq(mkdir(o.state_dir, 0700), 0);
    cr_assert_eq(chmod(o.state_dir, 0777), 0);
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, o.state_dir) && strstr(err, "mode 0777") &&
              strstr(err, "every user") && strstr(err, "chmod 0700"), "%s", err);

    cr_assert_eq(chmod(o.state_dir, 0770), 0);
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, "its group"), "%s", err);

    cr_assert_eq(chmod(o.state_dir, 0700), 0);
    if (geteuid() == 0) {   /* another user's folder, even if only it can write it */
        cr_assert_eq(chown(o.state_dir, 4321, 4321), 0);
        cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
        cr_assert(strstr(err, "owned by uid 4321") || strstr(err, "owned by "), "%s", err);
        cr_assert(strstr(err, "not by root"), "%s", err);
        cr_assert_eq(chown(o.state_dir, 0, 0), 0);
    }

    /* a link in place of the folder is not followed */
    cr_assert_eq(mkdir(at("elsewhere"), 0700), 0);
    o.state_dir = at("state-link");
    cr_assert_eq(symlink(at("elsewhere"), o.state_dir), 0);
    cr_assert_null(canh_follow_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, "is a symbolic link"), "%s", err);

    o.state_dir = at("state");   /* canh's own, 0700: taken */
    canh_follow_free(follow(&o));
    o.state_dir = at("new/deeper");   /* made, 0700 */
    canh_follow_free(follow(&o));
    struct stat st;
    cr_assert_eq(stat(at("new/deeper"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
}
