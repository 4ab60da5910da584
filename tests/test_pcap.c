/*
 * tests/test_pcap.c -- the pcap input's parts that need no interface
 * (engine/input/pcap.c): capture files told by their magic, read as pcap
 * (both byte orders, micro- and nanosecond stamps) and pcapng, cut and
 * damaged files, the frames handed on with their link type, time stamp
 * and bytes; and the `pcap` input's keys in canh.yml. Live capture is
 * tested end to end (tests/e2e/run_pcap_live: a veth pair in a namespace).
 *
 * The small captures here are built byte by byte from the file formats'
 * definitions (pcap: libpcap's savefile format, pcap-savefile(5);
 * pcapng: the IETF draft, draft-ietf-opsawg-pcapng), so that they test the
 * reader against the formats, not against itself. One real capture is
 * read too (tests/data/pcap/, from suricata-verify).
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/config.h"
#include "../engine/input/input.h"

/* ---- building captures ---------------------------------------------------- */

typedef struct bytes {
    uint8_t b[4096];
    size_t n;
    int be;   /* big-endian */
} bytes_t;

static void put(bytes_t *o, const void *p, size_t n)
{
    cr_assert(o->n + n <= sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void u32(bytes_t *o, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[o->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    put(o, b, 4);
}

static void u16(bytes_t *o, uint16_t v)
{
    uint8_t b[2];
    b[o->be ? 1 : 0] = (uint8_t)v;
    b[o->be ? 0 : 1] = (uint8_t)(v >> 8);
    put(o, b, 2);
}

/* pcap global header: magic, version 2.4, zone, sigfigs, snaplen, linktype */
static void pcap_header(bytes_t *o, uint32_t magic, uint32_t linktype)
{
    u32(o, magic);
    u16(o, 2);
    u16(o, 4);
    u32(o, 0);
    u32(o, 0);
    u32(o, 65535);
    u32(o, linktype);
}

static void pcap_record(bytes_t *o, uint32_t sec, uint32_t frac, const void *data,
                        uint32_t caplen, uint32_t len)
{
    u32(o, sec);
    u32(o, frac);
    u32(o, caplen);
    u32(o, len);
    put(o, data, caplen);
}

static char path[64];

static const char *to_file(const bytes_t *o)
{
    snprintf(path, sizeof(path), "/tmp/canh-test-pcap-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, o->b, o->n), (ssize_t)o->n);
    close(fd);
    return path;
}

static void cleanup(void)
{
    if (path[0])
        unlink(path);
}

TestSuite(pcap, .fini = cleanup);

/* what the callback saw */
typedef struct seen {
    int n;
    int dlt[8];
    long sec[8], usec[8];
    uint32_t caplen[8], len[8];
    uint8_t first[8];
} seen_t;

static void record(void *ud, int dlt, const struct pcap_pkthdr *h, const uint8_t *bytes)
{
    seen_t *s = ud;
    if (s->n < 8) {
        s->dlt[s->n] = dlt;
        s->sec[s->n] = (long)h->ts.tv_sec;
        s->usec[s->n] = (long)h->ts.tv_usec;
        s->caplen[s->n] = h->caplen;
        s->len[s->n] = h->len;
        s->first[s->n] = h->caplen ? bytes[0] : 0;
    }
    s->n++;
}

static const uint8_t frame_a[20] = { 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                     16, 17, 18, 19 };
static const uint8_t frame_b[8] = { 0xbb, 1, 2, 3, 4, 5, 6, 7 };

/* ---- magic ------------------------------------------------------------------ */

Test(pcap, magic_tells_pcap_in_both_orders_and_precisions)
{
    const uint8_t le_us[] = { 0xd4, 0xc3, 0xb2, 0xa1 }, be_us[] = { 0xa1, 0xb2, 0xc3, 0xd4 };
    const uint8_t le_ns[] = { 0x4d, 0x3c, 0xb2, 0xa1 }, be_ns[] = { 0xa1, 0xb2, 0x3c, 0x4d };
    cr_assert_eq(canh_pcap_magic(le_us, 4), 1);
    cr_assert_eq(canh_pcap_magic(be_us, 4), 1);
    cr_assert_eq(canh_pcap_magic(le_ns, 4), 1);
    cr_assert_eq(canh_pcap_magic(be_ns, 4), 1);
    cr_assert_eq(canh_pcap_magic(le_us, 3), 0, "three bytes are not enough");
    const uint8_t swapped_halves[] = { 0xb2, 0xa1, 0xd4, 0xc3 };
    cr_assert_eq(canh_pcap_magic(swapped_halves, 4), 0);
}

Test(pcap, magic_tells_pcapng_by_its_section_header_and_byte_order)
{
    const uint8_t le[] = { 0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a };
    const uint8_t be[] = { 0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d };
    const uint8_t bad_bom[] = { 0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1b };
    cr_assert_eq(canh_pcap_magic(le, sizeof(le)), 1);
    cr_assert_eq(canh_pcap_magic(be, sizeof(be)), 1);
    cr_assert_eq(canh_pcap_magic(bad_bom, sizeof(bad_bom)), 0);
    cr_assert_eq(canh_pcap_magic(le, 11), 0, "the byte-order magic is needed");
}

Test(pcap, magic_refuses_logs_and_nothing)
{
    const char *line = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed";
    cr_assert_eq(canh_pcap_magic((const uint8_t *)line, strlen(line)), 0);
    cr_assert_eq(canh_pcap_magic((const uint8_t *)"", 0), 0);
    cr_assert_eq(canh_pcap_magic(NULL, 12), 0);
}

/* ---- reading files -------------------------------------------------------- */

static seen_t read_all(const char *p, int *dlt, long *rc_out)
{
    canh_pcap_file_t *f = NULL;
    char err[256] = "";
    cr_assert_eq(canh_pcap_file_open(p, &f, err, sizeof(err)), CANH_OK, "%s", err);
    *dlt = canh_pcap_file_dlt(f);
    seen_t s = { 0 };
    long rc, total = 0;
    while ((rc = canh_pcap_file_read(f, 0, record, &s, err, sizeof(err))) > 0)
        total += rc;
    *rc_out = rc < 0 ? rc : total;
    canh_pcap_file_close(f);
    return s;
}

Test(pcap, reads_little_endian_microsecond_pcap)
{
    bytes_t o = { .be = 0 };
    pcap_header(&o, 0xa1b2c3d4, 1 /* DLT_EN10MB */);
    pcap_record(&o, 1700000000, 123456, frame_a, sizeof(frame_a), sizeof(frame_a));
    pcap_record(&o, 1700000001, 5, frame_b, 4, 60);   /* cut by the capturer's snaplen */
    int dlt;
    long rc;
    seen_t s = read_all(to_file(&o), &dlt, &rc);
    cr_assert_eq(rc, 2);
    cr_assert_eq(dlt, DLT_EN10MB);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.dlt[0], DLT_EN10MB);
    cr_assert_eq(s.sec[0], 1700000000);
    cr_assert_eq(s.usec[0], 123456);
    cr_assert_eq(s.caplen[0], 20);
    cr_assert_eq(s.first[0], 0xaa);
    cr_assert_eq(s.caplen[1], 4);
    cr_assert_eq(s.len[1], 60, "the length on the wire is kept");
    cr_assert_eq(s.first[1], 0xbb);
}

Test(pcap, reads_big_endian_nanosecond_pcap_in_microseconds)
{
    bytes_t o = { .be = 1 };
    pcap_header(&o, 0xa1b23c4d, 101 /* LINKTYPE_RAW */);
    pcap_record(&o, 1700000000, 123456789, frame_a, sizeof(frame_a), sizeof(frame_a));
    cr_assert_eq(canh_pcap_magic(o.b, o.n), 1);
    int dlt;
    long rc;
    seen_t s = read_all(to_file(&o), &dlt, &rc);
    cr_assert_eq(rc, 1);
    cr_assert_eq(dlt, DLT_RAW, "LINKTYPE_RAW is handed on as the DLT libpcap uses");
    cr_assert_eq(s.sec[0], 1700000000);
    cr_assert_eq(s.usec[0], 123456, "nanoseconds handed on as microseconds");
}

/* pcapng block: type, total length, body (padded to 32 bits), total length */
static void ng_block(bytes_t *o, uint32_t type, const bytes_t *body)
{
    size_t pad = (4 - body->n % 4) % 4;
    uint32_t total = (uint32_t)(12 + body->n + pad);
    static const uint8_t zero[4];
    u32(o, type);
    u32(o, total);
    put(o, body->b, body->n);
    put(o, zero, pad);
    u32(o, total);
}

static void build_pcapng(bytes_t *o)
{
    bytes_t shb = { .be = o->be }, idb = { .be = o->be }, epb = { .be = o->be };
    u32(&shb, 0x1a2b3c4d);   /* byte-order magic */
    u16(&shb, 1);            /* version 1.0 */
    u16(&shb, 0);
    u32(&shb, 0xffffffff);   /* section length: not given */
    u32(&shb, 0xffffffff);
    ng_block(o, 0x0a0d0d0a, &shb);
    u16(&idb, 1);            /* LINKTYPE_ETHERNET */
    u16(&idb, 0);
    u32(&idb, 0);            /* snaplen: none */
    ng_block(o, 0x00000001, &idb);
    /* Enhanced Packet Block: interface 0, time stamp in microseconds (the
     * default if_tsresol) as two 32-bit halves */
    uint64_t ts = 1700000000ull * 1000000 + 250000;
    u32(&epb, 0);
    u32(&epb, (uint32_t)(ts >> 32));
    u32(&epb, (uint32_t)ts);
    u32(&epb, 7);             /* captured: 7 of 20 (not a multiple of 4: padded) */
    u32(&epb, 20);
    put(&epb, frame_a, 7);
    ng_block(o, 0x00000006, &epb);
}

Test(pcap, reads_pcapng_in_both_byte_orders)
{
    for (int be = 0; be <= 1; be++) {
        bytes_t o = { .be = be };
        build_pcapng(&o);
        cr_assert_eq(canh_pcap_magic(o.b, o.n), 1);
        int dlt;
        long rc;
        seen_t s = read_all(to_file(&o), &dlt, &rc);
        cr_assert_eq(rc, 1, "byte order %s", be ? "big" : "little");
        cr_assert_eq(dlt, DLT_EN10MB);
        cr_assert_eq(s.sec[0], 1700000000);
        cr_assert_eq(s.usec[0], 250000);
        cr_assert_eq(s.caplen[0], 7);
        cr_assert_eq(s.len[0], 20);
        cr_assert_eq(s.first[0], 0xaa);
        unlink(path);
    }
}

Test(pcap, a_cut_file_hands_on_the_whole_frames_then_says_so)
{
    bytes_t o = { .be = 0 };
    pcap_header(&o, 0xa1b2c3d4, 1);
    pcap_record(&o, 1, 0, frame_a, sizeof(frame_a), sizeof(frame_a));
    pcap_record(&o, 2, 0, frame_a, sizeof(frame_a), sizeof(frame_a));
    o.n -= 5;   /* the second frame's last bytes are missing */
    canh_pcap_file_t *f = NULL;
    char err[256] = "";
    cr_assert_eq(canh_pcap_file_open(to_file(&o), &f, err, sizeof(err)), CANH_OK, "%s", err);
    seen_t s = { 0 };
    long rc = canh_pcap_file_read(f, 0, record, &s, err, sizeof(err));
    cr_assert_eq(rc, CANH_EPARSE);
    cr_assert_eq(s.n, 1, "the whole frame before the cut was handed on");
    cr_assert(strstr(err, "cut short") || strstr(err, "damaged"), "%s", err);
    canh_pcap_file_close(f);
}

Test(pcap, a_frame_longer_than_the_file_allows_is_refused_not_read)
{
    bytes_t o = { .be = 0 };
    pcap_header(&o, 0xa1b2c3d4, 1);
    u32(&o, 1);
    u32(&o, 0);
    u32(&o, 0x7fffffff);   /* caplen far beyond any snaplen */
    u32(&o, 0x7fffffff);
    put(&o, frame_a, sizeof(frame_a));
    canh_pcap_file_t *f = NULL;
    char err[256] = "";
    cr_assert_eq(canh_pcap_file_open(to_file(&o), &f, err, sizeof(err)), CANH_OK, "%s", err);
    seen_t s = { 0 };
    cr_assert_eq(canh_pcap_file_read(f, 0, record, &s, err, sizeof(err)), CANH_EPARSE);
    cr_assert_eq(s.n, 0);
    canh_pcap_file_close(f);
}

Test(pcap, a_log_file_is_not_a_capture)
{
    bytes_t o = { 0 };
    const char *text = "Oct 11 22:14:15 host sshd[1]: Failed password for root\n";
    put(&o, text, strlen(text));
    canh_pcap_file_t *f = NULL;
    char err[512] = "";
    cr_assert_eq(canh_pcap_file_open(to_file(&o), &f, err, sizeof(err)), CANH_EPARSE);
    cr_assert_null(f);
    cr_assert(strstr(err, path) && strstr(err, "pcap or pcapng"), "%s", err);
}

Test(pcap, a_missing_file_is_named)
{
    canh_pcap_file_t *f = NULL;
    char err[512] = "";
    cr_assert_lt(canh_pcap_file_open("/nonexistent/x.pcap", &f, err, sizeof(err)), 0);
    cr_assert(strstr(err, "/nonexistent/x.pcap"), "%s", err);
}

Test(pcap, reads_a_real_capture_in_steps)
{
    canh_pcap_file_t *f = NULL;
    char err[256] = "";
    cr_assert_eq(canh_pcap_file_open("tests/data/pcap/testmyids-midstream.pcap", &f, err,
                                     sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_pcap_file_dlt(f), DLT_EN10MB);
    seen_t s = { 0 };
    cr_assert_eq(canh_pcap_file_read(f, 3, record, &s, err, sizeof(err)), 3, "max is kept");
    cr_assert_eq(canh_pcap_file_read(f, 0, record, &s, err, sizeof(err)), 4);
    cr_assert_eq(canh_pcap_file_read(f, 0, record, &s, err, sizeof(err)), 0, "the end");
    cr_assert_eq(s.n, 7);
    /* the capture's frame lengths (its record headers, read independently) */
    const uint32_t lens[7] = { 135, 60, 313, 54, 54, 60, 54 };
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(s.caplen[i], lens[i], "frame %d", i);
        cr_assert_eq(s.len[i], lens[i], "frame %d", i);
    }
    canh_pcap_file_close(f);
}

Test(pcap, bad_arguments_are_refused)
{
    char err[128];
    canh_pcap_file_t *f = (canh_pcap_file_t *)1;
    cr_assert_eq(canh_pcap_file_open(NULL, &f, err, sizeof(err)), CANH_EINVAL);
    cr_assert_null(f);
    cr_assert_eq(canh_pcap_file_read(NULL, 0, record, NULL, err, sizeof(err)), CANH_EINVAL);
    cr_assert_eq(canh_pcap_file_dlt(NULL), -1);
    canh_pcap_file_close(NULL);
}

/* ---- the input kind -------------------------------------------------------- */

Test(pcap, the_table_names_each_kind_by_its_type)
{
    cr_assert_eq(canh_input_ops(CANH_INPUT_PCAP), &canh_input_pcap);
    cr_assert_eq(canh_input_ops(CANH_INPUT_UDP), &canh_input_udp);
    for (int t = CANH_INPUT_UDP; t <= CANH_INPUT_PCAP; t++) {
        const canh_input_ops_t *ops = canh_input_ops(t);
        if (!ops)
            continue;   /* still driven by run.c itself */
        cr_assert_str_eq(ops->kind, canh_input_type_name(t));
        cr_assert(ops->open && ops->start && ops->fds && ops->read && ops->close && ops->free,
                  "%s: every required function", ops->kind);
    }
    cr_assert_null(canh_input_ops(-1));
    cr_assert_null(canh_input_ops(99));
}

Test(pcap, opening_a_missing_interface_says_so)
{
    canh_config_input_t ci = { .type = CANH_INPUT_PCAP, .name = "cap",
                               .interface = "canh-nonesuch9", .snaplen = 262144,
                               .pcap_buffer = 1u << 20 };
    canh_config_t cfg = { .path = "canh.yml" };
    void *self = (void *)1;
    char err[512] = "";
    int rc = canh_input_pcap.open(&cfg, &ci, &self, err, sizeof(err));
    cr_assert_lt(rc, 0);
    cr_assert_null(self);
    cr_assert(strstr(err, "canh-nonesuch9") && strstr(err, "input cap"), "%s", err);
}

Test(pcap, filters_are_checked_without_an_interface)
{
    char err[256] = "";
    cr_assert_eq(canh_pcap_filter_check("tcp port 80 or (udp and not port 53)", 0, err,
                                        sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_pcap_filter_check("tcp and (((", 0, err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "syntax"), "libpcap's reason: %s", err);
    cr_assert_eq(canh_pcap_filter_check("port 99999", 0, err, sizeof(err)), CANH_EINVAL);
    cr_assert_eq(canh_pcap_filter_check(NULL, 0, err, sizeof(err)), CANH_EINVAL);
}

/* ---- canh.yml -------------------------------------------------------------- */

static canh_config_t *load(const char *yaml, char *err, size_t errlen)
{
    canh_config_t *c = NULL;
    canh_config_load_string(&c, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err, errlen);
    return c;
}

Test(pcap, config_defaults)
{
    char err[512] = "";
    canh_config_t *c = load("inputs:\n  - type: pcap\n    interface: eth0\n", err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    const canh_config_input_t *in = &c->inputs[0];
    cr_assert_eq(in->type, CANH_INPUT_PCAP);
    cr_assert_str_eq(in->interface, "eth0");
    cr_assert_str_eq(in->name, "pcap://eth0");
    cr_assert_null(in->filter);
    cr_assert_eq(in->snaplen, 262144);
    cr_assert_eq(in->promiscuous, 1);
    cr_assert_eq(in->pcap_buffer, 16u << 20);
    cr_assert_eq(in->immediate, 0);
    canh_config_free(c);
}

Test(pcap, config_every_key)
{
    char err[512] = "";
    canh_config_t *c = load("inputs:\n  - type: pcap\n    name: tap\n    interface: ens3\n"
                            "    filter: not port 22\n    snaplen: 1518\n"
                            "    promiscuous: false\n    buffer_size: 64MiB\n"
                            "    immediate: true\n", err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    const canh_config_input_t *in = &c->inputs[0];
    cr_assert_str_eq(in->name, "tap");
    cr_assert_str_eq(in->filter, "not port 22");
    cr_assert_eq(in->snaplen, 1518);
    cr_assert_eq(in->promiscuous, 0);
    cr_assert_eq(in->pcap_buffer, 64u << 20);
    cr_assert_eq(in->immediate, 1);
    canh_config_free(c);
}

Test(pcap, config_refuses_what_does_not_fit)
{
    char err[512] = "";
    cr_assert_null(load("inputs:\n  - type: pcap\n", err, sizeof(err)));
    cr_assert(strstr(err, "interface"), "the interface is required: %s", err);
    cr_assert_null(load("inputs:\n  - type: pcap\n    interface: eth0\n    snaplen: 10\n", err,
                        sizeof(err)));
    cr_assert(strstr(err, "snaplen"), "%s", err);
    cr_assert_null(load("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n"
                        "    interface: eth0\n", err, sizeof(err)));
    cr_assert(strstr(err, "interface"), "a pcap key on a udp input: %s", err);
    cr_assert_null(load("inputs:\n  - type: pcap\n    interface: eth0\n    listen: 0.0.0.0:1\n",
                        err, sizeof(err)));
    cr_assert(strstr(err, "listen"), "a udp key on a pcap input: %s", err);
}
