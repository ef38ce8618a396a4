/* graft-cli.c: Graft without a display.  Results on stdout, progress on
 * stderr, a non-zero exit with a one-line reason on failure. */
#define G_LOG_DOMAIN "graft-cli"

#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gf-engine.h"
#include "graft-cli-private.h"
#include "graft-json.h"

#define PROGRESS_BAR_WIDTH 30
#define PROGRESS_LINE_INTERVAL_US G_USEC_PER_SEC

typedef struct
{
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} Command;

static const Command commands[] = {
  { "backbones", "list the bundled backbones", graft_cli_backbones },
  { "inspect", "describe a backbone: input, preprocessing, blocks, "
    "bottleneck", graft_cli_inspect },
  { "features", "write the bottleneck vectors of a data set as .npy",
    graft_cli_features },
  { "train", "train a head (and fine-tune) on labelled folders",
    graft_cli_train },
  { "scan", "report a data set: classes, unusable files and why, warnings",
    graft_cli_scan },
  { "predict", "print a trained model's top classes for pictures, as "
    "JSON lines", graft_cli_predict },
  { "export", "copy a run's head, model or weights out, its curves as "
    "CSV, or write it as a PyTorch project", graft_cli_export },
  { "import-run", "make a Graft run of what an exported project's "
    "train.py wrote", graft_cli_import_run },
};

int
graft_cli_fail (int code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* One line, whatever the message held. */
  g_strdelimit (message, "\n\r", ' ');
  fprintf (stderr, "graft-cli: %s\n", message);
  return code;
}

gboolean
graft_cli_parse (const char *command, const char *parameters,
                 const char *summary, const GOptionEntry *entries,
                 int *argc, char ***argv)
{
  g_autofree char *name = g_strconcat ("graft-cli ", command, NULL);
  g_autoptr (GOptionContext) context = g_option_context_new (parameters);
  g_autoptr (GError) error = NULL;

  /* GOption's usage line starts with the program's name: "graft-cli
   * predict [OPTION…] IMAGE…". */
  g_set_prgname (name);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      graft_cli_fail (GRAFT_CLI_USAGE, "%s: %s", command, error->message);
      return FALSE;
    }
  return TRUE;
}

GraftBackbone *
graft_cli_load_backbone (const char *spec, const char *cut, GError **error)
{
  g_autoptr (GraftBackbone) backbone = graft_backbone_load (spec, NULL,
                                                            error);

  if (backbone == NULL
      || (cut != NULL && !graft_backbone_set_cut (backbone, cut, error)))
    return NULL;
  return g_steal_pointer (&backbone);
}

void
graft_cli_print_json (JsonNode *root)
{
  g_autofree char *text = graft_json_to_text (root, TRUE);

  printf ("%s\n", text);
}

/* ---- Progress ------------------------------------------------------------ */

struct _GraftCliProgress
{
  char *what;
  guint64 total;
  gint64 start, last_print;
  gboolean terminal;
};

GraftCliProgress *
graft_cli_progress_new (const char *what, guint64 total)
{
  GraftCliProgress *progress = g_new0 (GraftCliProgress, 1);

  progress->what = g_strdup (what);
  progress->total = total;
  progress->start = g_get_monotonic_time ();
  progress->terminal = isatty (STDERR_FILENO);
  return progress;
}

static void
print_bar (GraftCliProgress *progress, guint64 done, double eta)
{
  int filled = progress->total
    ? (int) (PROGRESS_BAR_WIDTH * done / progress->total) : 0;
  char bar[PROGRESS_BAR_WIDTH + 1];

  memset (bar, '#', (size_t) filled);
  memset (bar + filled, '-', (size_t) (PROGRESS_BAR_WIDTH - filled));
  bar[PROGRESS_BAR_WIDTH] = '\0';
  fprintf (stderr, "\r%s [%s] %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
           "  ETA %.0f s  ", progress->what, bar, done, progress->total, eta);
  if (done >= progress->total)
    fputc ('\n', stderr);
}

void
graft_cli_progress_update (GraftCliProgress *progress, guint64 done)
{
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - progress->start) / (double) G_USEC_PER_SEC;
  double eta = done ? elapsed * (progress->total - done) / done : 0.0;
  gboolean finished = done >= progress->total;

  if (!finished && now - progress->last_print < PROGRESS_LINE_INTERVAL_US
      && !progress->terminal)
    return;
  progress->last_print = now;
  if (progress->terminal)
    print_bar (progress, done, eta);
  else
    fprintf (stderr, "%s: %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
             " (%.1f s, ETA %.0f s)\n", progress->what, done,
             progress->total, elapsed, eta);
  fflush (stderr);
}

void
graft_cli_progress_free (GraftCliProgress *progress)
{
  g_free (progress->what);
  g_free (progress);
}

/* ---- Out of memory --------------------------------------------------------- */

/* GLib aborts the process when an allocation fails (g_malloc, and a
 * thread it cannot start), with a core dump and a message written for
 * its developers.  Here that becomes one line and exit status 1, like
 * every other failure.  Nothing is allocated on the way out. */
static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
           gpointer data)
{
  const char *message = NULL;

  if (!(level & G_LOG_LEVEL_ERROR))
    return g_log_writer_default (level, fields, n_fields, data);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
      message = fields[i].value;
  if (message != NULL && strstr (message, "failed to allocate") != NULL)
    fprintf (stderr, "graft-cli: out of memory: %s\n",
             strstr (message, "failed to allocate"));
  else if (message != NULL && strstr (message, "creating thread") != NULL)
    fprintf (stderr, "graft-cli: out of memory or threads: %s\n",
             strstr (message, "creating thread"));
  else
    return g_log_writer_default (level, fields, n_fields, data);
  fflush (stderr);
  _exit (GRAFT_CLI_FAILED);
}

/* Within this much of the limit on address space, a crash is taken for
 * what it almost surely is: memory ran out where nothing could report it
 * (GLib formatting its own out-of-memory message recurses until the
 * stack ends; a library's unchecked allocation). */
#define CRASH_NEAR_LIMIT ((size_t) 16 << 20)

static size_t crash_limit;   /* the limit, when one is set */

static void
on_crash (int signo)
{
  static const char line[] = "graft-cli: out of memory: the limit on "
    "address space (ulimit -v) is used up\n";
  size_t used = gf_engine_address_space_used ();

  if (used != 0 && used + CRASH_NEAR_LIMIT >= crash_limit)
    {
      if (write (STDERR_FILENO, line, sizeof line - 1) < 0)
        _exit (GRAFT_CLI_FAILED);
      _exit (GRAFT_CLI_FAILED);
    }
  signal (signo, SIG_DFL);
  raise (signo);
}

/* Only under a limit: elsewhere a crash is a crash.  The handler runs on
 * a stack of its own, since the thread's may be what ran out. */
static void
catch_crashes_at_limit (size_t limit)
{
  static char alternate[1 << 16];
  stack_t stack = { .ss_sp = alternate, .ss_size = sizeof alternate };
  struct sigaction action = { .sa_handler = on_crash,
                              .sa_flags = SA_ONSTACK | SA_RESETHAND };
  static const int signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGTRAP };

  crash_limit = limit;
  if (sigaltstack (&stack, NULL) != 0)
    return;
  sigemptyset (&action.sa_mask);
  for (gsize i = 0; i < G_N_ELEMENTS (signals); i++)
    sigaction (signals[i], &action, NULL);
}

/* ---- Dispatch ------------------------------------------------------------ */

static void
print_help (FILE *out)
{
  fprintf (out, "Usage: graft-cli COMMAND [OPTION…]\n\n"
           "Train image classifiers by transfer learning, without a "
           "display.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun graft-cli COMMAND --help for its options.\n");
}

/* Under a limit on address space, OpenBLAS' threads must be as many as
 * their buffers leave room for, and they start as the library loads: the
 * process runs itself again with OPENBLAS_NUM_THREADS set.  When not even
 * one fits, one line and _exit (exit handlers would join an OpenBLAS
 * thread stuck retrying its allocation). */
static void
fit_memory_limit (char **argv)
{
  size_t needed, limit;
  int fit = gf_engine_threads_for_limit (&needed, &limit);
  const char *env = g_getenv ("OPENBLAS_NUM_THREADS");
  char count[16];

  if (fit < 0)
    return;
  catch_crashes_at_limit (limit);
  /* glibc gives each thread that allocates a heap of its own, reserving
   * 64 MiB of address space for it: under a limit, one heap serves all. */
  mallopt (M_ARENA_MAX, 1);
  /* The buffers, taken before the data's tensors can leave too little
   * room for them; --threads asks for no more threads than have them. */
  if (fit >= gf_engine_get_threads ())
    {
      gf_engine_cap_threads (gf_engine_get_threads ());
      gf_engine_take_blas_buffers ();
      return;
    }
  if (fit == 0)
    {
      fprintf (stderr, "graft-cli: out of memory: Graft needs at least "
               "%zu MiB of address space and the limit (ulimit -v) is "
               "%zu MiB\n", needed >> 20, limit >> 20);
      fflush (stderr);
      _exit (GRAFT_CLI_FAILED);
    }
  g_snprintf (count, sizeof count, "%d", fit);
  if (g_strcmp0 (env, count) == 0)          /* already run again once */
    {
      gf_engine_cap_threads (fit);
      gf_engine_take_blas_buffers ();
      return;
    }
  g_setenv ("OPENBLAS_NUM_THREADS", count, TRUE);
  execv ("/proc/self/exe", argv);
  /* Without /proc, go on: the threads' buffers may still fit. */
}

int
main (int argc, char **argv)
{
  g_log_set_writer_func (write_log, NULL, NULL);
  /* Under a limit on file size (ulimit -f) a write past it fails with
   * EFBIG and one line says which file, rather than a core dump. */
  signal (SIGXFSZ, SIG_IGN);
  setlocale (LC_ALL, "");
  if (argc < 2 || g_str_equal (argv[1], "--help")
      || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_help (argc < 2 ? stderr : stdout);
      return argc < 2 ? GRAFT_CLI_USAGE : 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("graft-cli %s\n", GRAFT_VERSION);
      return 0;
    }
  /* More threads than cores only compete: OpenBLAS' and the worker
   * pool's threads wait by spinning, and with --threads 3 on two cores a
   * fine-tuning epoch took from 4 s to minutes. */
  gf_engine_cap_threads ((int) g_get_num_processors ());
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      {
        fit_memory_limit (argv);
        return commands[i].run (argc - 1, argv + 1);
      }
  return graft_cli_fail (GRAFT_CLI_USAGE, "unknown command '%s' (see "
                         "graft-cli --help)", argv[1]);
}
