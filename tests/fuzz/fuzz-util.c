/* fuzz-util.c: the scratch folder and environment of a fuzz target. */
#include "fuzz-util.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "graft-files.h"

static char *scratch_dir;

/* The targets make folders in the scratch folder. */
static void
remove_scratch (void)
{
  graft_remove_tree (scratch_dir);
}

const char *
fuzz_scratch_dir (void)
{
  if (scratch_dir == NULL)
    {
      scratch_dir = g_dir_make_tmp ("graft-fuzz-XXXXXX", NULL);
      if (scratch_dir == NULL)
        abort ();
      atexit (remove_scratch);
    }
  return scratch_dir;
}

/* Not g_file_set_contents: it syncs to disk when replacing a file, which
 * would make each input cost a disk flush (a hundred inputs a second). */
void
fuzz_write_path (const char *path, const uint8_t *data, size_t size)
{
  FILE *file = fopen (path, "wb");

  if (file == NULL || (size > 0 && fwrite (data, size, 1, file) != 1)
      || fclose (file) != 0)
    abort ();
}

/* Warnings are what a reader may say on its way to a refusal and are
 * dropped; a critical is a broken precondition inside Graft or a library
 * it misuses (json-glib asked for the wrong type), so it is a finding:
 * the message is printed and the process aborts, which libFuzzer reports. */
static const char *tolerated_domain;

static gboolean
is_tolerated (const GLogField *fields, gsize n_fields)
{
  if (tolerated_domain == NULL)
    return FALSE;
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
      return g_str_equal (fields[i].value, tolerated_domain);
  return FALSE;
}

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
            gpointer data)
{
  if (!(level & G_LOG_LEVEL_ERROR)
      && (!(level & G_LOG_LEVEL_CRITICAL) || is_tolerated (fields, n_fields)))
    return G_LOG_WRITER_HANDLED;
  g_log_writer_standard_streams (level, fields, n_fields, data);
  abort ();
}

void
fuzz_tolerate_criticals (const char *domain)
{
  tolerated_domain = domain;
}

void
fuzz_init_environment (void)
{
  g_setenv ("OPENBLAS_NUM_THREADS", "1", FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", FALSE);
  g_log_set_writer_func (log_writer, NULL, NULL);
}

void
fuzz_report (const char *what, const GError *error)
{
  if (error != NULL && g_getenv ("GRAFT_FUZZ_VERBOSE") != NULL)
    fprintf (stderr, "%s: %s\n", what, error->message);
}
