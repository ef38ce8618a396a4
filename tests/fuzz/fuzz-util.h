/* fuzz-util.h: what the fuzz targets share.
 *
 * libFuzzer calls LLVMFuzzerTestOneInput once per input, thousands of
 * times a second, in one process: the readers that take a path get the
 * input through one scratch folder per process, made once and removed at
 * exit.  Nothing here prints, so that libFuzzer's own report is all a
 * finding shows.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (no header declares them). */
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The process's scratch folder, made on the first call. */
const char *fuzz_scratch_dir (void);

/* Writes @size bytes to @path (in the scratch folder), replacing it.
 * Aborts when it cannot: a failing disk is not a finding of the reader. */
void fuzz_write_path (const char *path, const uint8_t *data, size_t size);

/* One BLAS thread; GLib warnings dropped, criticals fatal (fuzz-util.c
 * says why).  Call from LLVMFuzzerInitialize. */
void fuzz_init_environment (void);

/* Until called again with NULL, criticals of log domain @domain are
 * dropped too: for a library's own complaints about hostile bytes while
 * it parses them (GdkPixbuf's loaders), which Graft cannot prevent. */
void fuzz_tolerate_criticals (const char *domain);

/* With GRAFT_FUZZ_VERBOSE set, prints why a reader refused the input (to
 * see how far seeds get); otherwise nothing. */
void fuzz_report (const char *what, const GError *error);
