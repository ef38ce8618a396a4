/* test-run.c: training runs end to end, as the app and scripts see them.
 *
 * On pictures generated here (three classes of coloured bands and checks)
 * and the small ResNet-18 fixture, each mode trains through the GraftRun
 * API in a main loop.  The tests check the order and content of the
 * run's events, run.json and head.json against the schema README.md
 * documents, that `graft-cli predict` on model.onnx reproduces the best
 * epoch's validation results, that ONNX Runtime computes the same
 * probabilities from model.onnx, and how `graft-cli predict` and
 * `graft-cli export` behave for a script.  Each run is made once, by the
 * first test that needs it.
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "gf-onnx.h"
#include "graft-backbone.h"
#include "graft-files.h"
#include "graft-image.h"
#include "graft-run.h"
#include "graft-run-data.h"
#include "graft-test-cli.h"

#define SIDE 32                /* the pictures are SIDE × SIDE */
#define PER_CLASS 12
#define N_CLASSES 3
#define VAL_FRACTION 0.25
#define BATCH 8
#define SEED 7
#define RUN_TIMEOUT_S 120
#define ORT_EXIT_MISSING 3     /* ort-run.mjs: onnxruntime-node is missing */
#define P_TOLERANCE 1e-4       /* ONNX Runtime against graft-cli predict */
#define P_PRINTED 1e-5         /* predict prints 6 significant digits */
#define TIE_MARGIN 1e-4        /* a closer top two may swap in float32 */
#define LOSS_TOLERANCE 1e-4    /* relative: float32 passes, 6 digits */
#define ALL_CLASSES "100"      /* --top larger than any class count */

static const char *const class_names[N_CLASSES] = {
  "blue-checks", "green-columns", "red-rows",
};

typedef struct
{
  const char *name;
  GraftRunMode mode;
  gboolean sigmoid;          /* two classes, one sigmoid output */
  double lr;                 /* 0: the mode's default */
} Case;

/* "regress" learns so fast that unfreezing blocks makes things worse:
 * its best epoch lies two stages before its last (it waits two stages for
 * a better validation loss), and model.onnx must still hold that epoch's
 * weights, its frozen backbone blocks as they were before later stages
 * trained them. */
static const Case cases[] = {
  { "extract", GRAFT_RUN_MODE_EXTRACT, FALSE, 0 },
  { "finetune", GRAFT_RUN_MODE_FINETUNE, FALSE, 0 },
  { "progressive", GRAFT_RUN_MODE_PROGRESSIVE, FALSE, 0 },
  { "regress", GRAFT_RUN_MODE_PROGRESSIVE, FALSE, 0.05 },
  { "sigmoid", GRAFT_RUN_MODE_EXTRACT, TRUE, 0 },
};

typedef enum
{
  EV_STARTED,
  EV_STEP,
  EV_EPOCH,
  EV_STAGE,
  EV_CHECKPOINT,
  EV_FINISHED,
  EV_FAILED,
} EventKind;

static const char *const event_names[] = {
  "started", "step", "epoch", "stage", "checkpoint", "finished", "failed",
};

typedef struct
{
  EventKind kind;
  guint step, epoch;
  double loss, lr;
  GraftEpochReport *report;  /* EV_EPOCH */
  char *text;                /* stage block, checkpoint path, failure */
  char *reason;              /* EV_STAGE */
} Event;

/* A run trained to its end, and what it reported on the way. */
typedef struct
{
  const Case *c;
  char *dir;
  GraftRunConfig *config;
  GArray *events;            /* Event, in the order delivered */
  double progress;           /* the last "progress" seen */
  gboolean progress_fell;
  GMainLoop *loop;
  JsonNode *run_json, *head_json;
  guint updates;             /* "updated" signals: dispatches */
  guint notice_signals;
  GPtrArray *notices;        /* GraftRunNotice *, as the run kept them */
} Trained;

static char *work_dir, *data_dir;
static Trained *trained[G_N_ELEMENTS (cases)];

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GfModel, gf_model_free)

/* ---- Files and processes ------------------------------------------------- */


static JsonNode *
load_json (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static char *
backbone_path (void)
{
  return g_test_build_filename (G_TEST_DIST, "data", "torch",
                                "resnet18.onnx", NULL);
}

typedef struct
{
  int status;
  char *out, *err;
} Cli;

static void
cli_clear (Cli *cli)
{
  g_free (cli->out);
  g_free (cli->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

/* Runs graft-cli with the NULL-terminated @args. */
static Cli
cli_argv (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  Cli cli = { 0 };
  int wait_status;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                NULL, &cli.out, &cli.err, &wait_status, &error);
  g_assert_no_error (error);
  cli.status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  return cli;
}

#define cli(...) cli_argv ((const char *const[]) { __VA_ARGS__, NULL })

/* A failure is one line on stderr that names the program. */
static void
assert_one_line_failure (const Cli *cli, int status, const char *fragment)
{
  g_assert_cmpint (cli->status, ==, status);
  g_assert_true (g_str_has_prefix (cli->err, "graft-cli: "));
  g_assert_cmpint (strchr (cli->err, '\n') - cli->err + 1, ==,
                   (int) strlen (cli->err));
  if (strstr (cli->err, fragment) == NULL)
    g_test_fail_printf ("'%s' lacks '%s'", cli->err, fragment);
}

/* ---- Pictures ------------------------------------------------------------ */

/* Class 0: blue checks; 1: green columns; 2: red rows.  Band width,
 * phase and noise vary from picture to picture. */
static void
write_picture (const char *path, guint klass, GRand *rand)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                                 SIDE, SIDE);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  int width = g_rand_int_range (rand, 3, 7);
  int phase = g_rand_int_range (rand, 0, width);
  int channel = 2 - (int) klass;   /* blue, green, red */
  g_autoptr (GError) error = NULL;

  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++)
      {
        int along = klass == 0 ? (x + phase) / width + (y + phase) / width
          : klass == 1 ? (x + phase) / width : (y + phase) / width;
        int level = (along % 2 ? 220 : 90) + g_rand_int_range (rand, -25, 26);
        for (int c = 0; c < 3; c++)
          pixels[y * stride + x * 3 + c] = (guchar) CLAMP
            (c == channel ? level : level / 4 + g_rand_int_range (rand, 0, 30),
             0, 255);
      }
  gdk_pixbuf_save (pixbuf, path, "png", &error, NULL);
  g_assert_no_error (error);
}

static void
make_data_set (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (SEED);

  data_dir = g_build_filename (work_dir, "data", NULL);
  for (guint k = 0; k < N_CLASSES; k++)
    {
      g_autofree char *dir = g_build_filename (data_dir, class_names[k], NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      for (guint i = 0; i < PER_CLASS; i++)
        {
          g_autofree char *name = g_strdup_printf ("%02u.png", i);
          g_autofree char *path = g_build_filename (dir, name, NULL);
          write_picture (path, k, rand);
        }
    }
}

/* ---- Training ------------------------------------------------------------ */

static void
event_clear (gpointer data)
{
  Event *e = data;

  graft_epoch_report_free (e->report);
  g_free (e->text);
  g_free (e->reason);
}

static Event *
add_event (Trained *t, EventKind kind)
{
  Event e = { kind };

  g_array_append_val (t->events, e);
  return &g_array_index (t->events, Event, t->events->len - 1);
}

static void
on_started (GraftRun *run, Trained *t)
{
  add_event (t, EV_STARTED);
}

static void
on_step (GraftRun *run, guint step, guint epoch, double loss, double lr,
         Trained *t)
{
  Event *e = add_event (t, EV_STEP);

  e->step = step;
  e->epoch = epoch;
  e->loss = loss;
  e->lr = lr;
}

static void
on_epoch (GraftRun *run, GraftEpochReport *report, Trained *t)
{
  add_event (t, EV_EPOCH)->report = graft_epoch_report_copy (report);
}

static void
on_stage (GraftRun *run, guint epoch, guint step, const char *block,
          const char *reason, Trained *t)
{
  Event *e = add_event (t, EV_STAGE);

  e->epoch = epoch;
  e->step = step;
  e->text = g_strdup (block);
  e->reason = g_strdup (reason);
}

static void
on_checkpoint (GraftRun *run, guint epoch, const char *path, Trained *t)
{
  Event *e = add_event (t, EV_CHECKPOINT);

  e->epoch = epoch;
  e->text = g_strdup (path);
}

static void
on_progress (GraftRun *run, GParamSpec *pspec, Trained *t)
{
  double progress = graft_run_get_progress (run);

  t->progress_fell |= progress < t->progress;
  t->progress = progress;
}

static void
on_end (GraftRun *run, Trained *t)
{
  add_event (t, EV_FINISHED);
  g_main_loop_quit (t->loop);
}

static void
on_failed (GraftRun *run, const char *message, Trained *t)
{
  add_event (t, EV_FAILED)->text = g_strdup (message);
  g_main_loop_quit (t->loop);
}

static void
on_updated (GraftRun *run, Trained *t)
{
  t->updates++;
}

static void
on_notice (GraftRun *run, GraftRunNoticeKind kind, const char *message,
           Trained *t)
{
  t->notice_signals++;
}

static void
notice_free (gpointer data)
{
  GraftRunNotice *n = data;

  g_free (n->message);
  g_free (n);
}

/* The run's own history against the signals it emitted: the same steps,
 * epochs and stages, in the same order. */
static void
check_history_kept (GraftRun *run, Trained *t)
{
  const GArray *steps = graft_run_get_steps (run);
  guint n_steps = 0, n_epochs = 0, n_stages = 0;

  for (guint i = 0; i < t->events->len; i++)
    {
      const Event *e = &g_array_index (t->events, Event, i);
      if (e->kind == EV_STEP)
        {
          const GraftStepPoint *p = &g_array_index (steps, GraftStepPoint,
                                                    n_steps++);
          g_assert_cmpuint (p->step, ==, e->step);
          g_assert_cmpuint (p->epoch, ==, e->epoch);
          g_assert_cmpfloat (p->loss, ==, e->loss);
          g_assert_cmpfloat (p->lr, ==, e->lr);
          g_assert_cmpfloat (p->seconds, >=, 0);
        }
      else if (e->kind == EV_EPOCH)
        g_assert_cmpuint (((GraftEpochReport *) graft_run_get_epochs
                           (run)->pdata[n_epochs++])->epoch, ==,
                          e->report->epoch);
      else if (e->kind == EV_STAGE)
        g_assert_cmpstr (((GraftStageEvent *) graft_run_get_stages
                          (run)->pdata[n_stages++])->block, ==, e->text);
    }
  g_assert_cmpuint (steps->len, ==, n_steps);
  g_assert_cmpuint (graft_run_get_epochs (run)->len, ==, n_epochs);
  g_assert_cmpuint (graft_run_get_stages (run)->len, ==, n_stages);
  g_assert_cmpuint (graft_run_get_notices (run)->len, ==, t->notice_signals);
  g_assert_cmpuint (t->updates, >=, 1);
}

static char *
state_nick (GraftRun *run)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (GRAFT_TYPE_RUN_STATE);
  GraftRunState state;

  g_object_get (run, "state", &state, NULL);
  return g_strdup (g_enum_get_value (klass, state)->value_nick);
}

static void
keep_notices (GraftRun *run, Trained *t)
{
  GPtrArray *notices = graft_run_get_notices (run);

  t->notices = g_ptr_array_new_with_free_func (notice_free);
  for (guint i = 0; i < notices->len; i++)
    {
      GraftRunNotice *n = g_memdup2 (notices->pdata[i], sizeof *n);
      n->message = g_strdup (n->message);
      g_ptr_array_add (t->notices, n);
    }
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("the run did not end within %d s", RUN_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* Small and quick: a few epochs of four steps each.  Fine-tuning trains
 * the last two blocks; progressive unfreezing gets one epoch per stage
 * and a cap of three, so that it passes at least one stage. */
static GraftRunConfig *
case_config (const Case *c)
{
  GraftRunConfig *config = graft_run_config_new (c->mode);

  config->backbone = backbone_path ();
  config->data = g_new0 (char *, 3);
  if (c->sigmoid)
    {
      config->data[0] = g_build_filename (data_dir, class_names[0], NULL);
      config->data[1] = g_build_filename (data_dir, class_names[1], NULL);
      config->output = GRAFT_HEAD_OUTPUT_SIGMOID;
      config->hidden = 8;
    }
  else
    config->data[0] = g_strdup (data_dir);
  config->val_fraction = VAL_FRACTION;
  config->batch = BATCH;
  config->seed = SEED;
  config->threads = 1;
  config->epochs = c->mode == GRAFT_RUN_MODE_FINETUNE ? 2 : 3;
  config->unfreeze = c->mode == GRAFT_RUN_MODE_FINETUNE ? 2 : 0;
  config->stage_epochs = 1;
  if (c->lr > 0)
    {
      config->lr = c->lr;
      config->plateau_patience = 2;
      config->epochs = 4;
    }
  return config;
}

static void
train (Trained *t)
{
  g_autoptr (GraftRun) run = graft_run_new (t->config, t->dir);
  guint timeout = g_timeout_add_seconds (RUN_TIMEOUT_S, on_timeout, NULL);

  t->loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (run, "started", G_CALLBACK (on_started), t);
  g_signal_connect (run, "step", G_CALLBACK (on_step), t);
  g_signal_connect (run, "epoch", G_CALLBACK (on_epoch), t);
  g_signal_connect (run, "stage", G_CALLBACK (on_stage), t);
  g_signal_connect (run, "checkpoint", G_CALLBACK (on_checkpoint), t);
  g_signal_connect (run, "notify::progress", G_CALLBACK (on_progress), t);
  g_signal_connect (run, "finished", G_CALLBACK (on_end), t);
  g_signal_connect (run, "failed", G_CALLBACK (on_failed), t);
  g_signal_connect (run, "updated", G_CALLBACK (on_updated), t);
  g_signal_connect (run, "notice", G_CALLBACK (on_notice), t);
  graft_run_start (run);
  g_main_loop_run (t->loop);
  g_source_remove (timeout);
  g_clear_pointer (&t->loop, g_main_loop_unref);
  /* Nothing may arrive after the end. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_signal_handlers_disconnect_by_data (run, t);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_FINISHED);
  {
    g_autofree char *nick = state_nick (run);
    g_assert_cmpstr (nick, ==, "finished");
  }
  g_assert_null (graft_run_get_error (run));
  check_history_kept (run, t);
  keep_notices (run, t);
  /* Once waited for, the worker holds no reference: the run is this
   * test's alone, and goes with its last reference, here. */
  graft_run_wait (run);
  g_assert_cmpuint (G_OBJECT (run)->ref_count, ==, 1);
}

static Trained *
get_trained (const Case *c)
{
  Trained **slot = &trained[c - cases];
  Trained *t = *slot;
  g_autofree char *run_json = NULL, *head_json = NULL;

  if (t != NULL)
    return t;
  t = *slot = g_new0 (Trained, 1);
  t->c = c;
  t->dir = g_build_filename (work_dir, c->name, NULL);
  t->config = case_config (c);
  t->events = g_array_new (FALSE, TRUE, sizeof (Event));
  g_array_set_clear_func (t->events, event_clear);
  train (t);
  run_json = g_build_filename (t->dir, "run.json", NULL);
  head_json = g_build_filename (t->dir, "head.json", NULL);
  t->run_json = load_json (run_json);
  t->head_json = load_json (head_json);
  return t;
}

static void
trained_free (Trained *t)
{
  if (t == NULL)
    return;
  g_free (t->dir);
  graft_run_config_free (t->config);
  g_array_unref (t->events);
  g_clear_pointer (&t->notices, g_ptr_array_unref);
  json_node_unref (t->run_json);
  json_node_unref (t->head_json);
  g_free (t);
}

/* ---- Reading run.json ---------------------------------------------------- */

static JsonObject *
member_object (JsonNode *root, const char *name)
{
  return json_object_get_object_member (json_node_get_object (root), name);
}

static guint
n_val (Trained *t)
{
  return (guint) json_object_get_int_member (member_object (t->run_json,
                                                           "data"), "val");
}

static guint
n_train (Trained *t)
{
  return (guint) json_object_get_int_member (member_object (t->run_json,
                                                           "data"), "train");
}

static JsonArray *
run_classes (Trained *t)
{
  return json_object_get_array_member (member_object (t->run_json, "data"),
                                       "classes");
}

static JsonArray *
history_array (Trained *t, const char *name)
{
  return json_object_get_array_member (member_object (t->run_json,
                                                      "history"), name);
}

/* A number member; NaN for null. */
static double
number (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  g_assert_nonnull (node);
  return JSON_NODE_HOLDS_NULL (node) ? NAN : json_node_get_double (node);
}

static void
assert_same_number (double a, double b)
{
  if (isnan (a) || isnan (b))
    g_assert_true (isnan (a) && isnan (b));
  else
    g_assert_cmpfloat (a, ==, b);
}

/* ---- Events -------------------------------------------------------------- */

typedef struct
{
  guint steps, epochs, stages, checkpoints;
} Tally;

static void
check_report (const GraftEpochReport *r, guint n_classes, guint val)
{
  guint total = 0, correct = 0;

  g_assert_cmpuint (r->n_classes, ==, n_classes);
  for (guint truth = 0; truth < n_classes; truth++)
    {
      guint row = 0, hit = r->confusion[truth * n_classes + truth];
      for (guint p = 0; p < n_classes; p++)
        row += r->confusion[truth * n_classes + p];
      total += row;
      correct += hit;
      if (row == 0)
        g_assert_true (isnan (r->class_accuracy[truth]));
      else
        g_assert_cmpfloat_with_epsilon (r->class_accuracy[truth],
                                        (double) hit / row, 1e-12);
      g_assert_true (row == 0 || (r->class_accuracy[truth] >= 0
                                  && r->class_accuracy[truth] <= 1));
    }
  g_assert_cmpuint (total, ==, val);
  g_assert_cmpfloat_with_epsilon (r->val_accuracy, (double) correct / val,
                                  1e-12);
  g_assert_true (isfinite (r->train_loss) && r->train_loss >= 0);
  g_assert_true (isfinite (r->val_loss) && r->val_loss >= 0);
  g_assert_cmpfloat (r->seconds, >=, 0);
}

static void
check_event (const Event *e, EventKind previous, guint per_epoch, Tally *n)
{
  switch (e->kind)
    {
    case EV_STEP:
      g_assert_cmpuint (e->step, ==, n->steps);
      g_assert_cmpuint (e->epoch, ==, n->epochs + 1);
      g_assert_true (isfinite (e->loss) && e->loss >= 0 && e->lr > 0);
      n->steps++;
      break;
    case EV_EPOCH:
      g_assert_cmpint (previous, ==, EV_STEP);
      g_assert_cmpuint (e->report->epoch, ==, ++n->epochs);
      g_assert_cmpuint (e->report->step, ==, n->steps);
      g_assert_cmpuint (n->steps, ==, n->epochs * per_epoch);
      break;
    case EV_CHECKPOINT:
      g_assert_cmpint (previous, ==, EV_EPOCH);
      g_assert_cmpuint (e->epoch, ==, n->epochs);
      g_assert_true (g_file_test (e->text, G_FILE_TEST_IS_REGULAR));
      n->checkpoints++;
      break;
    case EV_STAGE:
      g_assert_true (previous == EV_STARTED || previous == EV_CHECKPOINT);
      g_assert_cmpuint (e->epoch, ==, n->epochs);
      g_assert_cmpuint (e->step, ==, n->steps);
      g_assert_true (*e->text != '\0' && *e->reason != '\0');
      n->stages++;
      break;
    case EV_STARTED:
    case EV_FINISHED:
    case EV_FAILED:
    default:
      g_test_fail_printf ("'%s' in the middle of the run",
                          event_names[e->kind]);
    }
}

/* started, then for each epoch its steps, "epoch", "checkpoint" and
 * perhaps "stage", then finished: nothing else, nothing after. */
static void
check_sequence (Trained *t, Tally *n)
{
  const Event *events = (const Event *) t->events->data;
  guint len = t->events->len;
  guint per_epoch = (n_train (t) + BATCH - 1) / BATCH;
  guint classes = json_array_get_length (run_classes (t));

  memset (n, 0, sizeof *n);
  for (guint i = 0; i < len; i++)
    if (events[i].kind == EV_FAILED)
      g_error ("the run failed: %s", events[i].text);
  g_assert_cmpuint (len, >=, 2);
  g_assert_cmpstr (event_names[events[0].kind], ==, "started");
  g_assert_cmpstr (event_names[events[len - 1].kind], ==, "finished");
  for (guint i = 1; i + 1 < len; i++)
    {
      check_event (&events[i], events[i - 1].kind, per_epoch, n);
      if (events[i].kind == EV_EPOCH)
        check_report (events[i].report, classes, n_val (t));
    }
  g_assert_cmpint (events[len - 2].kind, ==, EV_CHECKPOINT);
  g_assert_cmpuint (n->checkpoints, ==, n->epochs);
}

/* The first epoch with the lowest validation loss. */
static guint
best_reported (Trained *t)
{
  double best = INFINITY;
  guint epoch = 0;

  for (guint i = 0; i < t->events->len; i++)
    {
      const Event *e = &g_array_index (t->events, Event, i);
      if (e->kind == EV_EPOCH && e->report->val_loss < best)
        {
          best = e->report->val_loss;
          epoch = e->report->epoch;
        }
    }
  return epoch;
}

/* Stages begun after epoch @epoch. */
static guint
stages_after (Trained *t, guint epoch)
{
  guint n = 0;

  for (guint i = 0; i < t->events->len; i++)
    n += g_array_index (t->events, Event, i).kind == EV_STAGE
      && g_array_index (t->events, Event, i).epoch >= epoch;
  return n;
}

static void
test_events (gconstpointer data)
{
  const Case *c = data;
  Trained *t = get_trained (c);
  const Event *events = (const Event *) t->events->data;
  Tally n;

  check_sequence (t, &n);
  g_assert_false (t->progress_fell);
  g_assert_cmpfloat (t->progress, ==, 1.0);
  if (c->mode != GRAFT_RUN_MODE_PROGRESSIVE)
    {
      g_assert_cmpuint (n.epochs, ==, t->config->epochs);
      g_assert_cmpuint (n.stages, ==, 0);
      return;
    }
  /* The head first, right at the start, then at least one block. */
  g_assert_cmpuint (n.stages, >=, 2);
  g_assert_cmpint (events[1].kind, ==, EV_STAGE);
  g_assert_cmpstr (events[1].text, ==, "head");
  g_assert_cmpuint (n.epochs, <=, t->config->epochs);
  if (c->lr > 0)
    g_assert_cmpuint (stages_after (t, best_reported (t)), >=, 2);
}

/* ---- run.json and head.json against the documented schema ---------------- */

/* Each documented field as a path ("a.b", "[]" for every element of an
 * array) and its JSON type; "?" after the type allows null. */
typedef struct
{
  const char *path;
  const char *type;
} Field;

static const Field run_schema[] = {
  { "graft_version", "string" },
  { "status", "string" },
  { "message", "string?" },
  { "trainable_parameters", "integer" },
  { "config", "object" },
  { "config.backbone", "string" },
  { "config.cut", "string?" },
  { "config.data", "array" },
  { "config.data[]", "string" },
  { "config.val_fraction", "number" },
  { "config.split_seed", "integer" },
  { "config.seed", "integer" },
  { "config.mode", "string" },
  { "config.unfreeze", "integer" },
  { "config.hidden", "integer" },
  { "config.dropout", "number" },
  { "config.output", "string" },
  { "config.optimizer", "string" },
  { "config.lr", "number" },
  { "config.momentum", "number" },
  { "config.weight_decay", "number" },
  { "config.schedule", "string" },
  { "config.warmup_epochs", "integer" },
  { "config.step_epochs", "integer" },
  { "config.step_gamma", "number" },
  { "config.label_smoothing", "number" },
  { "config.epochs", "integer" },
  { "config.batch", "integer" },
  { "config.augment_flip", "boolean" },
  { "config.augment_crop", "boolean" },
  { "config.patience", "integer" },
  { "config.bn_frozen_all", "boolean" },
  { "config.discriminative", "number" },
  { "config.stage_epochs", "integer" },
  { "config.plateau_tolerance", "number" },
  { "config.plateau_patience", "integer" },
  { "config.threads", "integer" },
  { "data", "object" },
  { "data.classes", "array" },
  { "data.classes[]", "string" },
  { "data.train", "integer" },
  { "data.val", "integer" },
  { "data.skipped", "integer" },
  { "data.warnings", "array" },
  { "data.warnings[]", "string" },
  { "history", "object" },
  { "history.steps", "array" },
  { "history.steps[].step", "integer" },
  { "history.steps[].epoch", "integer" },
  { "history.steps[].loss", "number" },
  { "history.steps[].lr", "number" },
  { "history.epochs", "array" },
  { "history.epochs[].epoch", "integer" },
  { "history.epochs[].step", "integer" },
  { "history.epochs[].train_loss", "number?" },
  { "history.epochs[].val_loss", "number?" },
  { "history.epochs[].val_accuracy", "number?" },
  { "history.epochs[].seconds", "number" },
  { "history.epochs[].class_accuracy", "array" },
  { "history.epochs[].class_accuracy[]", "number?" },
  { "history.epochs[].confusion", "array" },
  { "history.epochs[].confusion[]", "array" },
  { "history.epochs[].confusion[][]", "integer" },
  { "stages", "array" },
  { "stages[].epoch", "integer" },
  { "stages[].step", "integer" },
  { "stages[].block", "string" },
  { "stages[].reason", "string" },
  { "final", "object" },
  { "final.val_loss", "number?" },
  { "final.val_accuracy", "number?" },
  { "final.best_epoch", "integer" },
  { "final.epochs", "integer" },
  { "final.wall_seconds", "number" },
  { "final.stop_reason", "string?" },
};

static const Field head_schema[] = {
  { "labels", "array" },
  { "labels[]", "string" },
  { "backbone", "object" },
  { "backbone.name", "string" },
  { "backbone.sha256", "string" },
  { "cut", "string" },
  { "bottleneck_shape", "array" },
  { "bottleneck_shape[]", "integer" },
  { "preprocess", "object" },
  { "preprocess.size", "array" },
  { "preprocess.size[]", "integer" },
  { "preprocess.resize", "string" },
  { "preprocess.channels", "string" },
  { "preprocess.scale", "number" },
  { "preprocess.mean", "array" },
  { "preprocess.mean[]", "number" },
  { "preprocess.std", "array" },
  { "preprocess.std[]", "number" },
  { "head", "object" },
  { "head.layers", "string" },
  { "head.hidden", "integer" },
  { "head.dropout", "number" },
  { "head.outputs", "integer" },
  { "head.output", "string" },
};

static const char *
json_type (JsonNode *node)
{
  GType type;

  if (JSON_NODE_HOLDS_OBJECT (node))
    return "object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "array";
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  type = json_node_get_value_type (node);
  return type == G_TYPE_STRING ? "string" : type == G_TYPE_BOOLEAN
    ? "boolean" : type == G_TYPE_INT64 ? "integer" : "number";
}

static void
check_type (JsonNode *node, const char *type, const char *path)
{
  const char *is = json_type (node);
  gsize len = strlen (type);
  gboolean nullable = type[len - 1] == '?';
  gboolean ok = strncmp (is, type, len - nullable) == 0
    && strlen (is) == len - nullable;

  /* A whole number is a number too. */
  ok = ok || (g_str_has_prefix (type, "number")
              && g_str_equal (is, "integer"));
  ok = ok || (nullable && g_str_equal (is, "null"));
  if (!ok)
    g_test_fail_printf ("%s is %s, not %s", path, is, type);
}

/* Follows @steps ("name", or "[]" for every element) from @node. */
static void
walk (JsonNode *node, char **steps, const char *type, const char *path)
{
  JsonArray *array;

  if (*steps == NULL)
    check_type (node, type, path);
  else if (g_str_equal (*steps, "[]") && !JSON_NODE_HOLDS_ARRAY (node))
    g_test_fail_printf ("%s: not an array", path);
  else if (g_str_equal (*steps, "[]"))
    {
      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        walk (json_array_get_element (array, i), steps + 1, type, path);
    }
  else if (!JSON_NODE_HOLDS_OBJECT (node)
           || !json_object_has_member (json_node_get_object (node), *steps))
    g_test_fail_printf ("%s: no member '%s'", path, *steps);
  else
    walk (json_object_get_member (json_node_get_object (node), *steps),
          steps + 1, type, path);
}

static void
check_schema (JsonNode *root, const Field *fields, gsize n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      g_autoptr (GString) spaced = g_string_new (fields[i].path);
      g_auto (GStrv) steps = NULL;
      g_string_replace (spaced, "[]", ".[]", 0);
      steps = g_strsplit (spaced->str, ".", -1);
      walk (root, steps, fields[i].type, fields[i].path);
    }
}

static void
check_history (Trained *t)
{
  JsonArray *steps = history_array (t, "steps");
  JsonArray *epochs = history_array (t, "epochs");
  guint s = 0, e = 0;

  for (guint i = 0; i < t->events->len; i++)
    {
      const Event *ev = &g_array_index (t->events, Event, i);
      JsonObject *o;
      if (ev->kind == EV_STEP)
        {
          o = json_array_get_object_element (steps, s++);
          g_assert_cmpint (json_object_get_int_member (o, "step"), ==,
                           ev->step);
          g_assert_cmpint (json_object_get_int_member (o, "epoch"), ==,
                           ev->epoch);
          assert_same_number (number (o, "loss"), ev->loss);
          assert_same_number (number (o, "lr"), ev->lr);
        }
      else if (ev->kind == EV_EPOCH)
        {
          o = json_array_get_object_element (epochs, e++);
          g_assert_cmpint (json_object_get_int_member (o, "epoch"), ==,
                           ev->report->epoch);
          g_assert_cmpint (json_object_get_int_member (o, "step"), ==,
                           ev->report->step);
          assert_same_number (number (o, "train_loss"),
                              ev->report->train_loss);
          assert_same_number (number (o, "val_loss"), ev->report->val_loss);
          assert_same_number (number (o, "val_accuracy"),
                              ev->report->val_accuracy);
        }
    }
  g_assert_cmpuint (s, ==, json_array_get_length (steps));
  g_assert_cmpuint (e, ==, json_array_get_length (epochs));
}

static void
check_confusion (JsonObject *epoch, const GraftEpochReport *r)
{
  JsonArray *rows = json_object_get_array_member (epoch, "confusion");
  JsonArray *accuracy = json_object_get_array_member (epoch,
                                                      "class_accuracy");
  guint k = r->n_classes;

  g_assert_cmpuint (json_array_get_length (rows), ==, k);
  g_assert_cmpuint (json_array_get_length (accuracy), ==, k);
  for (guint truth = 0; truth < k; truth++)
    {
      JsonArray *row = json_array_get_array_element (rows, truth);
      JsonNode *a = json_array_get_element (accuracy, truth);
      g_assert_cmpuint (json_array_get_length (row), ==, k);
      for (guint p = 0; p < k; p++)
        g_assert_cmpint (json_array_get_int_element (row, p), ==,
                         r->confusion[truth * k + p]);
      assert_same_number (JSON_NODE_HOLDS_NULL (a) ? NAN
                          : json_node_get_double (a),
                          r->class_accuracy[truth]);
    }
}

static void
check_stages (Trained *t)
{
  JsonArray *stages = json_object_get_array_member
    (json_node_get_object (t->run_json), "stages");
  guint s = 0;

  for (guint i = 0; i < t->events->len; i++)
    {
      const Event *ev = &g_array_index (t->events, Event, i);
      JsonObject *o;
      if (ev->kind != EV_STAGE)
        continue;
      o = json_array_get_object_element (stages, s++);
      g_assert_cmpint (json_object_get_int_member (o, "epoch"), ==,
                       ev->epoch);
      g_assert_cmpint (json_object_get_int_member (o, "step"), ==, ev->step);
      g_assert_cmpstr (json_object_get_string_member (o, "block"), ==,
                       ev->text);
      g_assert_cmpstr (json_object_get_string_member (o, "reason"), ==,
                       ev->reason);
    }
  g_assert_cmpuint (s, ==, json_array_get_length (stages));
}

/* The best epoch is the first with the lowest validation loss. */
static guint
best_epoch (Trained *t)
{
  JsonArray *epochs = history_array (t, "epochs");
  double best = INFINITY;
  guint epoch = 0;

  for (guint i = 0; i < json_array_get_length (epochs); i++)
    {
      double loss = number (json_array_get_object_element (epochs, i),
                            "val_loss");
      if (loss < best)
        {
          best = loss;
          epoch = i + 1;
        }
    }
  return epoch;
}

static void
check_final (Trained *t)
{
  JsonObject *run = json_node_get_object (t->run_json);
  JsonObject *final = json_object_get_object_member (run, "final");
  JsonArray *epochs = history_array (t, "epochs");
  guint best = best_epoch (t);
  JsonObject *at_best = json_array_get_object_element (epochs, best - 1);

  g_assert_cmpstr (json_object_get_string_member (run, "status"), ==,
                   "finished");
  g_assert_true (json_object_get_null_member (run, "message"));
  g_assert_cmpstr (json_object_get_string_member (run, "graft_version"), !=,
                   "");
  g_assert_cmpint (json_object_get_int_member (final, "best_epoch"), ==, best);
  g_assert_cmpint (json_object_get_int_member (final, "epochs"), ==,
                   json_array_get_length (epochs));
  assert_same_number (number (final, "val_loss"),
                      number (at_best, "val_loss"));
  assert_same_number (number (final, "val_accuracy"),
                      number (at_best, "val_accuracy"));
  g_assert_cmpfloat (number (final, "wall_seconds"), >, 0);
  g_assert_true (t->c->mode != GRAFT_RUN_MODE_PROGRESSIVE
                 || json_object_get_string_member (final, "stop_reason"));
}

/* The event log's notices: each new best epoch (the last one the best
 * epoch of run.json), and an early stop exactly when run.json says
 * training ended on patience or a plateau, with the same reason. */
static void
test_notices (gconstpointer data)
{
  Trained *t = get_trained (data);
  JsonObject *final = json_object_get_object_member
    (json_node_get_object (t->run_json), "final");
  const char *reason = json_object_get_string_member_with_default
    (final, "stop_reason", NULL);
  gboolean early = reason != NULL && (g_str_has_prefix (reason, "no better")
                                      || strstr (reason, "plateau"));
  guint last_best = 0, n_early = 0;

  for (guint i = 0; i < t->notices->len; i++)
    {
      GraftRunNotice *n = t->notices->pdata[i];
      g_test_message ("notice %d at epoch %u: %s", n->kind, n->epoch,
                      n->message);
      g_assert_cmpint (n->kind, !=, GRAFT_RUN_NOTICE_NAN_STOP);
      if (n->kind == GRAFT_RUN_NOTICE_BEST_EPOCH)
        {
          g_autofree char *prefix = g_strdup_printf ("epoch %u: ", n->epoch);
          g_assert_true (g_str_has_prefix (n->message, prefix));
          g_assert_cmpuint (n->epoch, >, last_best);
          last_best = n->epoch;
        }
      else if (n->kind == GRAFT_RUN_NOTICE_EARLY_STOP)
        {
          g_assert_cmpstr (n->message, ==, reason);
          n_early++;
        }
    }
  g_assert_cmpuint (last_best, ==, best_epoch (t));
  g_assert_cmpuint (n_early, ==, early ? 1 : 0);
}

static void
test_run_json (gconstpointer data)
{
  Trained *t = get_trained (data);
  JsonObject *run = json_node_get_object (t->run_json);
  JsonArray *epochs = history_array (t, "epochs");
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  guint e = 0;

  check_schema (t->run_json, run_schema, G_N_ELEMENTS (run_schema));
  config = graft_run_config_from_json (json_object_get_member (run, "config"),
                                       &error);
  g_assert_no_error (error);
  g_assert_true (graft_run_config_equal (config, t->config));
  g_assert_cmpuint (json_array_get_length (run_classes (t)), ==,
                    t->c->sigmoid ? 2 : N_CLASSES);
  g_assert_cmpuint (n_train (t) + n_val (t), ==,
                    PER_CLASS * json_array_get_length (run_classes (t)));
  check_history (t);
  for (guint i = 0; i < t->events->len; i++)
    {
      const Event *ev = &g_array_index (t->events, Event, i);
      if (ev->kind == EV_EPOCH)
        check_confusion (json_array_get_object_element (epochs, e++),
                         ev->report);
    }
  check_stages (t);
  check_final (t);
}

/* The head's weights, counted by hand from its layout: a Dense from the
 * @channels pooled values to @hidden units (none when 0), then one to
 * @outputs, each with its bias. */
static guint64
head_params (guint64 channels, guint64 hidden, guint64 outputs)
{
  if (hidden == 0)
    return channels * outputs + outputs;
  return channels * hidden + hidden + hidden * outputs + outputs;
}

/* The blocks the run trained at its end: fine-tuning's last N, and one
 * per stage after the head's for progressive unfreezing. */
static guint
unfrozen_blocks (Trained *t)
{
  JsonArray *stages = json_object_get_array_member
    (json_node_get_object (t->run_json), "stages");

  switch (t->config->mode)
    {
    case GRAFT_RUN_MODE_FINETUNE:
      return (guint) t->config->unfreeze;
    case GRAFT_RUN_MODE_PROGRESSIVE:
      return json_array_get_length (stages) - 1;
    case GRAFT_RUN_MODE_EXTRACT:
    default:
      return 0;
    }
}

/* run.json's "trainable_parameters": the head's weights alone for
 * feature extraction; with those of the blocks the last stage had
 * unfrozen for the other modes — also when the best epoch, which the
 * exports keep, lies in an earlier stage ("regress"). */
static void
test_trainable (gconstpointer data)
{
  Trained *t = get_trained (data);
  JsonObject *run = json_node_get_object (t->run_json);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftBackbone) backbone = graft_backbone_load
    (t->config->backbone, NULL, &error);
  guint outputs = t->c->sigmoid ? 1 : json_array_get_length (run_classes (t));
  guint channels, height, width, n_blocks, unfrozen = unfrozen_blocks (t);
  guint64 head, want;

  g_assert_no_error (error);
  graft_backbone_get_cut_shape (backbone, &channels, &height, &width);
  head = want = head_params (channels, t->config->hidden, outputs);
  n_blocks = graft_backbone_get_n_blocks (backbone);
  g_assert_cmpuint (unfrozen, <=, n_blocks);
  for (guint b = n_blocks - unfrozen; b < n_blocks; b++)
    want += graft_backbone_get_block (backbone, b)->n_params;
  g_test_message ("%s: %u blocks unfrozen, %" G_GUINT64_FORMAT " weights "
                  "train, %" G_GUINT64_FORMAT " of them the head's",
                  t->c->name, unfrozen, want, head);
  g_assert_cmpint (json_object_get_int_member (run, "trainable_parameters"),
                   ==, want);
  if (t->config->mode != GRAFT_RUN_MODE_EXTRACT)
    g_assert_cmpuint (want, >, head);
}

static void
check_preprocess (JsonObject *pre, const GfPreprocess *want)
{
  JsonArray *size = json_object_get_array_member (pre, "size");
  JsonArray *mean = json_object_get_array_member (pre, "mean");
  JsonArray *std = json_object_get_array_member (pre, "std");

  g_assert_cmpuint (json_array_get_length (size), ==, 2);
  g_assert_cmpint (json_array_get_int_element (size, 0), ==, want->height);
  g_assert_cmpint (json_array_get_int_element (size, 1), ==, want->width);
  g_assert_cmpstr (json_object_get_string_member (pre, "resize"), ==,
                   want->resize == GF_RESIZE_SQUASH ? "squash"
                   : "shorter-crop");
  g_assert_cmpstr (json_object_get_string_member (pre, "channels"), ==,
                   want->order == GF_CHANNELS_BGR ? "BGR" : "RGB");
  g_assert_cmpfloat (json_object_get_double_member (pre, "scale"), ==,
                     want->scale);
  g_assert_cmpuint (json_array_get_length (mean), ==, 3);
  g_assert_cmpuint (json_array_get_length (std), ==, 3);
  for (guint c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (json_array_get_double_element (mean, c), ==,
                         want->mean[c]);
      g_assert_cmpfloat (json_array_get_double_element (std, c), ==,
                         want->std[c]);
    }
}

static GfModel *
load_model (const char *path)
{
  GfModel *model = NULL;
  GfError gf_error = { 0 };

  if (gf_onnx_load (path, NULL, &model, &gf_error) != GF_OK)
    g_error ("%s: %s", path, gf_error.message);
  return model;
}

/* The cut and its shape, seen in the backbone itself. */
static void
check_cut (JsonObject *head, const GfModel *backbone)
{
  int cut = gf_graph_find_tensor (backbone->graph,
                                  json_object_get_string_member (head,
                                                                 "cut"));
  JsonArray *shape = json_object_get_array_member (head, "bottleneck_shape");
  size_t dims[GF_MAX_DIMS];

  g_assert_cmpint (cut, >=, 0);
  g_assert_cmpuint (gf_graph_tensor_shape (backbone->graph, cut, dims), ==,
                    4);
  g_assert_cmpuint (json_array_get_length (shape), ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (json_array_get_int_element (shape, i), ==, dims[i + 1]);
}

static void
test_head_json (gconstpointer data)
{
  Trained *t = get_trained (data);
  JsonObject *head = json_node_get_object (t->head_json);
  JsonObject *layout = json_object_get_object_member (head, "head");
  JsonObject *backbone = json_object_get_object_member (head, "backbone");
  JsonArray *labels = json_object_get_array_member (head, "labels");
  g_autoptr (GfModel) model = load_model (t->config->backbone);
  g_autoptr (GMappedFile) file = g_mapped_file_new (t->config->backbone,
                                                    FALSE, NULL);
  g_autofree char *sha = g_compute_checksum_for_data
    (G_CHECKSUM_SHA256, (const guchar *) g_mapped_file_get_contents (file),
     g_mapped_file_get_length (file));
  guint k = json_array_get_length (run_classes (t));

  check_schema (t->head_json, head_schema, G_N_ELEMENTS (head_schema));
  g_assert_cmpuint (json_array_get_length (labels), ==, k);
  for (guint i = 0; i < k; i++)
    g_assert_cmpstr (json_array_get_string_element (labels, i), ==,
                     json_array_get_string_element (run_classes (t), i));
  g_assert_cmpstr (json_object_get_string_member (backbone, "name"), ==,
                   model->name);
  g_assert_cmpstr (json_object_get_string_member (backbone, "sha256"), ==,
                   sha);
  check_cut (head, model);
  check_preprocess (json_object_get_object_member (head, "preprocess"),
                    &model->preprocess);
  g_assert_cmpint (json_object_get_int_member (layout, "hidden"), ==,
                   t->config->hidden);
  g_assert_cmpfloat (json_object_get_double_member (layout, "dropout"), ==,
                     t->config->dropout);
  g_assert_cmpint (json_object_get_int_member (layout, "outputs"), ==,
                   t->c->sigmoid ? 1 : k);
  g_assert_cmpstr (json_object_get_string_member (layout, "output"), ==,
                   t->c->sigmoid ? "sigmoid" : "softmax");
}

/* ---- Predictions --------------------------------------------------------- */

/* The validation pictures exactly as the run split them, and their
 * classes. */
static GPtrArray *
val_pictures (Trained *t, GArray *truth)
{
  g_autoptr (GfModel) model = load_model (t->config->backbone);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftRunData) data = NULL;
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  GraftControl control;

  graft_control_init (&control);
  data = graft_run_data_load (t->config, &model->preprocess, &control,
                              &error);
  graft_control_clear (&control);
  g_assert_no_error (error);
  for (guint i = 0; i < graft_run_data_n_val (data); i++)
    {
      guint sample = graft_run_data_val (data)[i];
      guint label = graft_run_data_label (data, sample);
      g_ptr_array_add (paths, g_strdup (graft_run_data_path (data, sample)));
      if (truth != NULL)
        g_array_append_val (truth, label);
    }
  g_assert_cmpuint (paths->len, ==, n_val (t));
  return paths;
}

typedef struct
{
  char *path;
  guint n;
  guint label[N_CLASSES];    /* class indexes, most likely first */
  double p[N_CLASSES];
} Prediction;

static guint
class_index (Trained *t, const char *label)
{
  JsonArray *classes = run_classes (t);

  for (guint i = 0; i < json_array_get_length (classes); i++)
    if (g_str_equal (json_array_get_string_element (classes, i), label))
      return i;
  g_error ("predict gave an unknown label '%s'", label);
  return 0;
}

/* One line of `graft-cli predict`, checked for form and order. */
static Prediction
parse_prediction (Trained *t, const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  Prediction pr = { 0 };
  JsonObject *o;
  JsonArray *top;

  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (o), ==, 2);
  pr.path = g_strdup (json_object_get_string_member (o, "path"));
  top = json_object_get_array_member (o, "top");
  pr.n = json_array_get_length (top);
  g_assert_cmpuint (pr.n, >=, 1);
  g_assert_cmpuint (pr.n, <=, N_CLASSES);
  for (guint i = 0; i < pr.n; i++)
    {
      JsonObject *entry = json_array_get_object_element (top, i);
      g_assert_cmpuint (json_object_get_size (entry), ==, 2);
      pr.label[i] = class_index (t, json_object_get_string_member (entry,
                                                                   "label"));
      pr.p[i] = json_object_get_double_member (entry, "p");
      g_assert_cmpfloat (pr.p[i], >=, 0);
      g_assert_cmpfloat (pr.p[i], <=, 1);
      g_assert_true (i == 0 || pr.p[i] <= pr.p[i - 1]);
    }
  return pr;
}

/* `graft-cli predict` with every class listed, one prediction per
 * picture, in order. */
static GArray *
predict (Trained *t, GPtrArray *paths)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_auto (Cli) run = { 0 };
  g_auto (GStrv) lines = NULL;
  GArray *predictions = g_array_new (FALSE, FALSE, sizeof (Prediction));

  g_ptr_array_add (args, (gpointer) "predict");
  g_ptr_array_add (args, (gpointer) "--run");
  g_ptr_array_add (args, t->dir);
  g_ptr_array_add (args, (gpointer) "--top");
  g_ptr_array_add (args, (gpointer) ALL_CLASSES);
  for (guint i = 0; i < paths->len; i++)
    g_ptr_array_add (args, paths->pdata[i]);
  g_ptr_array_add (args, NULL);
  run = cli_argv ((const char *const *) args->pdata);
  g_assert_cmpstr (run.err, ==, "");
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_suffix (run.out, "\n"));
  lines = g_strsplit (run.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, paths->len + 1);
  for (guint i = 0; i < paths->len; i++)
    {
      Prediction pr = parse_prediction (t, lines[i]);
      g_assert_cmpstr (pr.path, ==, paths->pdata[i]);
      g_assert_cmpuint (pr.n, ==, json_array_get_length (run_classes (t)));
      g_array_append_val (predictions, pr);
    }
  return predictions;
}

static void
predictions_free (GArray *predictions)
{
  for (guint i = 0; i < predictions->len; i++)
    g_free (g_array_index (predictions, Prediction, i).path);
  g_array_unref (predictions);
}

/* The probability predict gives the class @truth. */
static double
p_of (const Prediction *pr, guint truth)
{
  for (guint c = 0; c < pr->n; c++)
    if (pr->label[c] == truth)
      return pr->p[c];
  g_assert_not_reached ();
  return 0;
}

static void
assert_confusion (JsonArray *want, const guint *confusion, guint k)
{
  for (guint r = 0; r < k; r++)
    for (guint c = 0; c < k; c++)
      g_assert_cmpint (json_array_get_int_element
                       (json_array_get_array_element (want, r), c), ==,
                       confusion[r * k + c]);
}

/* model.onnx holds the best epoch's weights: predicting the validation
 * pictures with it gives that epoch's validation loss (the mean of
 * −log p of the true class; no label smoothing here) and, unless two
 * classes are nearly tied somewhere, its confusion matrix. */
static void
test_predict_validation (gconstpointer data)
{
  Trained *t = get_trained (data);
  g_autoptr (GArray) truth = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GPtrArray) paths = val_pictures (t, truth);
  GArray *predictions = predict (t, paths);
  guint k = json_array_get_length (run_classes (t));
  JsonObject *best = json_array_get_object_element
    (history_array (t, "epochs"), best_epoch (t) - 1);
  g_autofree guint *confusion = g_new0 (guint, k * k);
  gboolean near_tie = FALSE;
  double loss = 0, sum;

  for (guint i = 0; i < predictions->len; i++)
    {
      const Prediction *pr = &g_array_index (predictions, Prediction, i);
      guint label = g_array_index (truth, guint, i);
      sum = 0;
      for (guint c = 0; c < pr->n; c++)
        sum += pr->p[c];
      g_assert_cmpfloat_with_epsilon (sum, 1.0, k * P_PRINTED);
      near_tie |= pr->p[0] - pr->p[1] < TIE_MARGIN;
      confusion[label * k + pr->label[0]]++;
      loss -= log (p_of (pr, label)) / predictions->len;
    }
  predictions_free (predictions);
  g_assert_cmpfloat_with_epsilon (loss, number (best, "val_loss"),
                                  LOSS_TOLERANCE * MAX (loss, 1.0));
  if (near_tie)
    g_test_message ("a validation picture's top two classes are too close "
                    "to compare with training's counts");
  else
    assert_confusion (json_object_get_array_member (best, "confusion"),
                      confusion, k);
}

/* ---- ONNX Runtime -------------------------------------------------------- */


/* The pictures as model.onnx takes them: (N, C, H, W), prepared as its
 * metadata says. */
static float *
input_batch (const GfModel *model, GPtrArray *paths, size_t *count)
{
  const GfPreprocess *pre = &model->preprocess;
  size_t one = pre->channels * pre->height * pre->width;
  float *input = g_new (float, paths->len * one);

  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GdkPixbuf) pixbuf = graft_image_load (paths->pdata[i],
                                                       GRAFT_DEFAULT_MAX_PIXELS,
                                                       &error);
      g_assert_no_error (error);
      graft_image_to_tensor (pixbuf, pre, input + i * one);
    }
  *count = paths->len * one;
  return input;
}

/* ONNX Runtime's output of model.onnx for @paths: (N, outputs). */
static float *
run_onnx_runtime (Trained *t, const char *script, GPtrArray *paths,
                  guint outputs)
{
  g_autofree char *model_path = g_build_filename (t->dir, "model.onnx", NULL);
  g_autofree char *in = g_build_filename (work_dir, "ort.in", NULL);
  g_autofree char *out = g_build_filename (work_dir, "ort.out", NULL);
  g_autoptr (GfModel) model = load_model (model_path);
  g_autofree float *input = NULL;
  g_autofree char *shape = NULL, *stdout_text = NULL, *stderr_text = NULL;
  g_autoptr (GError) error = NULL;
  char *bytes = NULL;
  size_t count;
  gsize length;

  input = input_batch (model, paths, &count);
  shape = g_strdup_printf ("%u,%zu,%zu,%zu", paths->len,
                           model->preprocess.channels,
                           model->preprocess.height, model->preprocess.width);
  g_file_set_contents (in, (const char *) input,
                       (gssize) (count * sizeof *input), &error);
  g_assert_no_error (error);
  if (graft_test_run_tool ((const char *[]) { "node", script, model_path, in,
                                              shape, out, NULL },
                           ORT_EXIT_MISSING, &stdout_text, &stderr_text)
      != GRAFT_TOOL_PASSED)
    g_error ("ONNX Runtime failed on %s: %s", model_path,
             g_strdelimit (stderr_text, "\n", ' '));
  g_file_get_contents (out, &bytes, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, paths->len * outputs * sizeof (float));
  return (float *) bytes;
}

/* ONNX Runtime's probabilities from model.onnx match graft-cli predict's
 * on every validation picture, and so does the most likely class. */
static void
test_onnx_runtime (gconstpointer data)
{
  Trained *t = get_trained (data);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools",
                                                   "ort-run.mjs", NULL);
  g_autoptr (GPtrArray) paths = NULL;
  g_autofree float *ort = NULL;
  GArray *predictions;
  guint outputs = t->c->sigmoid ? 1 : N_CLASSES;

  if (!graft_test_have_onnx_runtime (script))
    return;
  paths = val_pictures (t, NULL);
  ort = run_onnx_runtime (t, script, paths, outputs);
  predictions = predict (t, paths);
  for (guint i = 0; i < paths->len; i++)
    {
      const Prediction *pr = &g_array_index (predictions, Prediction, i);
      const float *row = ort + i * outputs;
      guint top = 0;
      for (guint c = 0; c < pr->n; c++)
        {
          double want = t->c->sigmoid ? (pr->label[c] ? row[0] : 1 - row[0])
            : row[pr->label[c]];
          g_assert_cmpfloat_with_epsilon (pr->p[c], want, P_TOLERANCE);
        }
      for (guint c = 1; c < outputs; c++)
        top = row[c] > row[top] ? c : top;
      if (t->c->sigmoid)
        top = row[0] >= 0.5f;
      g_assert_cmpuint (pr->label[0], ==, top);
    }
  predictions_free (predictions);
}

/* ---- graft-cli predict and export ---------------------------------------- */

static const Case *
extract_case (void)
{
  return &cases[0];
}

/* A folder whose run.json says the run is under way: no results yet. */
static char *
unfinished_run (void)
{
  g_autofree char *json = NULL;
  char *dir = g_build_filename (work_dir, "unfinished", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  json = g_build_filename (dir, "run.json", NULL);
  g_file_set_contents (json, "{\"status\": \"running\", \"history\": "
                       "{\"steps\": [{\"step\": 0, \"epoch\": 1, \"loss\": "
                       "0.5, \"lr\": 0.01}], \"epochs\": [{\"epoch\": 1, "
                       "\"step\": 1, \"train_loss\": 0.5, \"val_loss\": "
                       "null, \"val_accuracy\": null}]}}", -1, &error);
  g_assert_no_error (error);
  return dir;
}

/* Unreadable pictures are reported, one line each; the others still
 * print, in order. */
static void
test_cli_predict_unreadable (void)
{
  Trained *t = get_trained (extract_case ());
  g_autoptr (GPtrArray) paths = val_pictures (t, NULL);
  g_autofree char *missing = g_build_filename (work_dir, "missing.png", NULL);
  g_autofree char *text = g_build_filename (work_dir, "text.png", NULL);
  const char *good = paths->pdata[0], *other = paths->pdata[1];
  g_auto (GStrv) lines = NULL, errors = NULL;
  g_auto (Cli) run = { 0 };

  g_file_set_contents (text, "not a picture\n", -1, NULL);
  run = cli ("predict", "--run", t->dir, "--top", "2", good, missing, other,
             text);
  g_assert_cmpint (run.status, ==, 1);
  lines = g_strsplit (run.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  for (guint i = 0; i < 2; i++)
    {
      Prediction pr = parse_prediction (t, lines[i]);
      g_autofree char *path = pr.path;
      g_assert_cmpstr (path, ==, i == 0 ? good : other);
      g_assert_cmpuint (pr.n, ==, 2);
    }
  errors = g_strsplit (run.err, "\n", -1);
  g_assert_cmpuint (g_strv_length (errors), ==, 3);
  g_assert_true (g_str_has_prefix (errors[0], "graft-cli: ")
                 && strstr (errors[0], missing) != NULL);
  g_assert_true (g_str_has_prefix (errors[1], "graft-cli: ")
                 && strstr (errors[1], text) != NULL);
}

/* Five classes by default, or all when fewer; --model reads labels and
 * preprocessing from the file and prints the same. */
static void
test_cli_predict_model (void)
{
  Trained *t = get_trained (extract_case ());
  g_autoptr (GPtrArray) paths = val_pictures (t, NULL);
  g_autofree char *model = g_build_filename (t->dir, "model.onnx", NULL);
  const char *good = paths->pdata[0], *other = paths->pdata[1];
  g_auto (Cli) by_run = cli ("predict", "--run", t->dir, good, other);
  g_auto (Cli) by_model = cli ("predict", "--model", model, good, other);
  g_auto (GStrv) lines = g_strsplit (by_run.out, "\n", -1);
  Prediction pr;

  g_assert_cmpint (by_run.status, ==, 0);
  g_assert_cmpstr (by_run.err, ==, "");
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  pr = parse_prediction (t, lines[0]);
  g_free (pr.path);
  g_assert_cmpuint (pr.n, ==, N_CLASSES);
  g_assert_cmpint (by_model.status, ==, 0);
  g_assert_cmpstr (by_model.out, ==, by_run.out);
}

static void
test_cli_predict_failures (void)
{
  Trained *t = get_trained (extract_case ());
  g_autoptr (GPtrArray) paths = val_pictures (t, NULL);
  g_autofree char *model = g_build_filename (t->dir, "model.onnx", NULL);
  g_autofree char *backbone = backbone_path ();
  g_autofree char *unfinished = unfinished_run ();
  const char *good = paths->pdata[0];
  g_auto (Cli) none = cli ("predict", good);
  g_auto (Cli) both = cli ("predict", "--run", t->dir, "--model", model,
                           good);
  g_auto (Cli) no_pictures = cli ("predict", "--run", t->dir);
  g_auto (Cli) zero = cli ("predict", "--run", t->dir, "--top", "0", good);
  g_auto (Cli) flag = cli ("predict", "--run", t->dir, "--frobnicate", good);
  g_auto (Cli) not_run = cli ("predict", "--run", work_dir, good);
  g_auto (Cli) running = cli ("predict", "--run", unfinished, good);
  g_auto (Cli) no_labels = cli ("predict", "--model", backbone, good);

  assert_one_line_failure (&none, 2, "--run or --model");
  assert_one_line_failure (&both, 2, "--run or --model");
  assert_one_line_failure (&no_pictures, 2, "no pictures");
  assert_one_line_failure (&zero, 2, "--top");
  assert_one_line_failure (&flag, 2, "frobnicate");
  assert_one_line_failure (&not_run, 1, "no run.json");
  assert_one_line_failure (&running, 1, "not finished");
  assert_one_line_failure (&no_labels, 1, "graft.labels");
}

static void
assert_same_file (const char *a, const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize nx, ny;

  g_assert_true (g_file_get_contents (a, &x, &nx, NULL));
  g_assert_true (g_file_get_contents (b, &y, &ny, NULL));
  g_assert_cmpuint (nx, ==, ny);
  g_assert_true (memcmp (x, y, nx) == 0);
}

/* A cell as run.json's value: empty for null. */
static void
assert_cell (const char *cell, JsonObject *o, const char *name)
{
  double value = number (o, name);

  if (isnan (value))
    g_assert_cmpstr (cell, ==, "");
  else
    g_assert_cmpfloat (g_ascii_strtod (cell, NULL), ==, value);
}

static void
check_csv_rows (char **lines, const char *kind, JsonArray *rows,
                const char *const *columns)
{
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
      JsonObject *o = json_array_get_object_element (rows, i);
      g_assert_cmpuint (g_strv_length (cells), ==, 8);
      g_assert_cmpstr (cells[0], ==, kind);
      for (guint c = 1; c < 8; c++)
        if (*columns[c - 1] == '\0')
          g_assert_cmpstr (cells[c], ==, "");
        else
          assert_cell (cells[c], o, columns[c - 1]);
    }
}

static void
check_csv (Trained *t, const char *path)
{
  static const char *const step_columns[] = {
    "epoch", "step", "loss", "lr", "", "", "",
  };
  static const char *const epoch_columns[] = {
    "epoch", "step", "", "", "train_loss", "val_loss", "val_accuracy",
  };
  JsonArray *steps = history_array (t, "steps");
  JsonArray *epochs = history_array (t, "epochs");
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint n_steps = json_array_get_length (steps);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==,
                    2 + n_steps + json_array_get_length (epochs));
  g_assert_cmpstr (lines[0], ==, "kind,epoch,step,loss,lr,train_loss,"
                   "val_loss,val_accuracy");
  check_csv_rows (lines + 1, "step", steps, step_columns);
  check_csv_rows (lines + 1 + n_steps, "epoch", epochs, epoch_columns);
}

static char *
exports_dir (void)
{
  char *dir = g_build_filename (work_dir, "exports", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

/* Each result byte for byte, twice over (the second export replaces the
 * first), and nothing else left in the folder: no temporary files. */
static void
test_cli_export_copies (void)
{
  static const char *const formats[][2] = {
    { "head-onnx", "head.onnx" },
    { "model-onnx", "model.onnx" },
    { "safetensors", "head.safetensors" },
  };
  Trained *t = get_trained (extract_case ());
  g_autofree char *dir = g_build_filename (work_dir, "copies", NULL);
  g_autoptr (GDir) listing = NULL;
  guint n = 0;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    for (int pass = 0; pass < 2; pass++)
      {
        g_autofree char *out = g_build_filename (dir, formats[i][1], NULL);
        g_autofree char *from = g_build_filename (t->dir, formats[i][1],
                                                  NULL);
        g_auto (Cli) run = cli ("export", "--run", t->dir, "--format",
                                formats[i][0], "--out", out);
        g_assert_cmpint (run.status, ==, 0);
        g_assert_cmpstr (run.out, ==, "");
        g_assert_cmpstr (run.err, ==, "");
        assert_same_file (out, from);
      }
  listing = g_dir_open (dir, 0, NULL);
  while (g_dir_read_name (listing) != NULL)
    n++;
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (formats));
}

/* The curves match run.json; a run under way has curves too, with empty
 * cells for what it does not know. */
static void
test_cli_export_csv (void)
{
  Trained *t = get_trained (extract_case ());
  g_autofree char *dir = exports_dir ();
  g_autofree char *csv = g_build_filename (dir, "curves.csv", NULL);
  g_autofree char *partial = g_build_filename (dir, "partial.csv", NULL);
  g_autofree char *unfinished = unfinished_run ();
  g_autofree char *text = NULL;
  g_auto (Cli) run = cli ("export", "--run", t->dir, "--format", "csv",
                          "--out", csv);
  g_auto (Cli) running = cli ("export", "--run", unfinished, "--format",
                              "csv", "--out", partial);

  g_assert_cmpint (run.status, ==, 0);
  check_csv (t, csv);
  g_assert_cmpint (running.status, ==, 0);
  g_assert_true (g_file_get_contents (partial, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "kind,epoch,step,loss,lr,train_loss,val_loss,"
                   "val_accuracy\nstep,1,0,0.5,0.01,,,\n"
                   "epoch,1,1,,,0.5,,\n");
}

static void
test_cli_export_failures (void)
{
  Trained *t = get_trained (extract_case ());
  g_autofree char *dir = exports_dir ();
  g_autofree char *out = g_build_filename (dir, "x", NULL);
  g_autofree char *unfinished = unfinished_run ();
  g_autofree char *nowhere = g_build_filename (work_dir, "no", "such",
                                               "dir.csv", NULL);
  g_auto (Cli) format = cli ("export", "--run", t->dir, "--format", "png",
                             "--out", out);
  g_auto (Cli) no_out = cli ("export", "--run", t->dir, "--format", "csv");
  g_auto (Cli) extra = cli ("export", "--run", t->dir, "--format", "csv",
                            "--out", out, "more");
  g_auto (Cli) running = cli ("export", "--run", unfinished, "--format",
                              "model-onnx", "--out", out);
  g_auto (Cli) not_run = cli ("export", "--run", dir, "--format", "csv",
                              "--out", out);
  g_auto (Cli) unwritable = cli ("export", "--run", t->dir, "--format", "csv",
                                 "--out", nowhere);

  assert_one_line_failure (&format, 2, "png");
  assert_one_line_failure (&no_out, 2, "--out");
  assert_one_line_failure (&extra, 2, "--out");
  assert_one_line_failure (&running, 1, "not finished");
  assert_one_line_failure (&not_run, 1, "no run.json");
  assert_one_line_failure (&unwritable, 1, "dir.csv");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* ---- The run object ------------------------------------------------------ */

#define SLOW_DISPATCH_US 20000   /* a main loop busy drawing */

typedef struct
{
  GMainLoop *loop;
  guint steps, updates;
  GPtrArray *states;         /* nicks, as "notify::state" told them */
  gboolean cancel_when_paused;
} Watch;

static void
on_watch_step (GraftRun *run, guint step, guint epoch, double loss,
               double lr, Watch *w)
{
  w->steps++;
}

static void
on_watch_updated (GraftRun *run, Watch *w)
{
  w->updates++;
  g_usleep (SLOW_DISPATCH_US);
}

static void
on_watch_end (GraftRun *run, Watch *w)
{
  g_main_loop_quit (w->loop);
}

static void
on_watch_failed (GraftRun *run, const char *message, Watch *w)
{
  g_main_loop_quit (w->loop);
}

static gpointer
cancel_from_thread (gpointer data)
{
  g_usleep (G_USEC_PER_SEC / 10);
  g_cancellable_cancel (data);
  return NULL;
}

static void
on_watch_state (GraftRun *run, GParamSpec *pspec, Watch *w)
{
  g_ptr_array_add (w->states, state_nick (run));
  if (w->cancel_when_paused
      && graft_run_get_state (run) == GRAFT_RUN_STATE_PAUSED)
    g_thread_unref (g_thread_new ("cancel", cancel_from_thread,
                                  graft_run_get_cancellable (run)));
}

static void
on_watch_started (GraftRun *run, Watch *w)
{
  if (w->cancel_when_paused)
    graft_run_pause (run);
}

/* Runs @config in a main loop, watching it. */
static GraftRun *
watch_run (GraftRunConfig *config, const char *name, Watch *w)
{
  g_autofree char *dir = g_build_filename (work_dir, name, NULL);
  GraftRun *run = graft_run_new (config, dir);
  guint timeout = g_timeout_add_seconds (RUN_TIMEOUT_S, on_timeout, NULL);

  w->loop = g_main_loop_new (NULL, FALSE);
  w->states = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (run, "step", G_CALLBACK (on_watch_step), w);
  g_signal_connect (run, "updated", G_CALLBACK (on_watch_updated), w);
  g_signal_connect (run, "started", G_CALLBACK (on_watch_started), w);
  g_signal_connect (run, "notify::state", G_CALLBACK (on_watch_state), w);
  g_signal_connect (run, "finished", G_CALLBACK (on_watch_end), w);
  g_signal_connect (run, "failed", G_CALLBACK (on_watch_failed), w);
  graft_run_start (run);
  g_main_loop_run (w->loop);
  g_source_remove (timeout);
  g_main_loop_unref (w->loop);
  g_signal_handlers_disconnect_by_data (run, w);
  return run;
}

static GraftRunConfig *
many_steps_config (void)
{
  GraftRunConfig *config = case_config (&cases[0]);

  config->batch = 1;
  config->epochs = 4;
  return config;
}

/* A worker making steps faster than a busy main loop turns: the events
 * queue up and each dispatch delivers many of them, in order. */
static void
test_coalesced (void)
{
  g_autoptr (GraftRunConfig) config = many_steps_config ();
  Watch w = { 0 };
  g_autoptr (GraftRun) run = watch_run (config, "coalesced", &w);
  const GArray *steps = graft_run_get_steps (run);

  g_test_message ("%u steps in %u dispatches", w.steps, w.updates);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_FINISHED);
  g_assert_cmpuint (steps->len, ==, w.steps);
  for (guint i = 1; i < steps->len; i++)
    g_assert_cmpuint (g_array_index (steps, GraftStepPoint, i).step, ==,
                      g_array_index (steps, GraftStepPoint, i - 1).step + 1);
  g_assert_cmpuint (w.steps, >=, 80);
  g_assert_cmpuint (w.updates * 4, <=, w.steps);
  g_ptr_array_unref (w.states);
}

/* Paused, then cancelled from another thread: the pause wakes up, the run
 * stops, and "state" told each change. */
static void
test_cancellable (void)
{
  g_autoptr (GraftRunConfig) config = many_steps_config ();
  Watch w = { .cancel_when_paused = TRUE };
  g_autoptr (GraftRun) run = NULL;

  config->epochs = 1000;
  run = watch_run (config, "cancelled", &w);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_STOPPED);
  g_assert_true (g_cancellable_is_cancelled
                 (graft_run_get_cancellable (run)));
  g_assert_cmpuint (w.states->len, ==, 3);
  g_assert_cmpstr (w.states->pdata[0], ==, "running");
  g_assert_cmpstr (w.states->pdata[1], ==, "paused");
  g_assert_cmpstr (w.states->pdata[2], ==, "stopped");
  g_ptr_array_unref (w.states);
}

/* A failure keeps its GError, not only its message. */
static void
test_failure_error (void)
{
  g_autoptr (GraftRunConfig) config = case_config (&cases[0]);
  Watch w = { 0 };
  g_autoptr (GraftRun) run = NULL;
  const GError *error;

  g_free (config->backbone);
  config->backbone = g_strdup ("no-such-backbone");
  run = watch_run (config, "failing", &w);
  error = graft_run_get_error (run);
  g_assert_cmpint (graft_run_get_state (run), ==, GRAFT_RUN_STATE_FAILED);
  g_assert_error ((GError *) error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, graft_run_get_message (run));
  g_assert_cmpstr (w.states->pdata[w.states->len - 1], ==, "failed");
  g_ptr_array_unref (w.states);
}

/* ---- main ---------------------------------------------------------------- */

static void
add_case_tests (const Case *c)
{
  static const struct
  {
    const char *name;
    GTestDataFunc func;
  } tests[] = {
    { "events", test_events },
    { "notices", test_notices },
    { "run-json", test_run_json },
    { "head-json", test_head_json },
    { "trainable", test_trainable },
    { "predict", test_predict_validation },
    { "onnx-runtime", test_onnx_runtime },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (tests); i++)
    {
      g_autofree char *path = g_strdup_printf ("/train/run/%s/%s", c->name,
                                               tests[i].name);
      g_test_add_data_func (path, c, tests[i].func);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  work_dir = g_dir_make_tmp ("graft-test-run-XXXXXX", &error);
  g_assert_no_error (error);
  make_data_set ();
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    add_case_tests (&cases[i]);
  g_test_add_func ("/train/run/object/coalesced", test_coalesced);
  g_test_add_func ("/train/run/object/cancellable", test_cancellable);
  g_test_add_func ("/train/run/object/failure-error", test_failure_error);
  g_test_add_func ("/train/cli/predict/unreadable",
                   test_cli_predict_unreadable);
  g_test_add_func ("/train/cli/predict/model", test_cli_predict_model);
  g_test_add_func ("/train/cli/predict/failures", test_cli_predict_failures);
  g_test_add_func ("/train/cli/export/copies", test_cli_export_copies);
  g_test_add_func ("/train/cli/export/csv", test_cli_export_csv);
  g_test_add_func ("/train/cli/export/failures", test_cli_export_failures);
  status = g_test_run ();
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    trained_free (trained[i]);
  graft_remove_tree (work_dir);
  g_free (work_dir);
  g_free (data_dir);
  return status;
}
