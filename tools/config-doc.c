/*
 * tools/config-doc.c -- prints docs/config.md, the reference of canh.yml,
 * from the key table in engine/config.c (`make docs`; `make docs-check`
 * fails when the committed file differs).
 *
 *   config-doc            to standard output
 *   config-doc FILE       to FILE
 *
 * Thread: single-threaded tool.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../engine/config.h"

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: config-doc [FILE]\n");
        return 2;
    }
    FILE *out = argc == 2 ? fopen(argv[1], "w") : stdout;
    if (!out) {
        fprintf(stderr, "config-doc: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    canh_config_doc_markdown(out);
    if (fflush(out) || ferror(out) || (out != stdout && fclose(out))) {
        fprintf(stderr, "config-doc: write failed: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
