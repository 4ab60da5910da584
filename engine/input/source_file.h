/*
 * engine/input/source_file.h -- log files and stdin, read as lines.
 *
 * Reads in large blocks and splits on '\n' with memchr; a trailing '\r'
 * and a last line without newline are handled. Lines of any length are
 * delivered whole (the buffer grows). Bytes are passed on untouched.
 *
 * Thread: the caller's (canh run's stdin input; canh scan reads its files
 * in the pipeline, see canh_pipeline_scan). Ownership: the line passed to the
 * callback lives in the reader's buffer and is valid only during the call.
 */
#ifndef CANH_SOURCE_FILE_H
#define CANH_SOURCE_FILE_H

#include "../canh.h"

/*
 * Opens path for reading ("-": stdin, which is not opened again). Returns
 * CANH_OK with the descriptor in *fd, or CANH_ENOENT / CANH_EIO with a
 * sentence naming the file in err (a directory is refused).
 */
int canh_file_open(const char *path, int *fd, char *err, size_t errlen);

/* Return non-zero from the callback to stop reading. */
typedef int (*canh_line_fn)(void *ud, const char *line, size_t len);

/*
 * Reads path ("-" = stdin) line by line. Returns CANH_OK, or CANH_EIO /
 * CANH_ENOENT with a sentence naming the file in err. *bytes (if given)
 * receives the bytes read.
 */
int canh_file_read_lines(const char *path, canh_line_fn fn, void *ud,
                         uint64_t *bytes, char *err, size_t errlen);

#endif
