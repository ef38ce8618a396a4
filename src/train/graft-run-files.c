/* graft-run-files.c: run.json and head.json. */
#define G_LOG_DOMAIN "graft-run-files"

#include "graft-run-files.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "graft-error.h"
#include "graft-json.h"

typedef struct
{
  guint step, epoch;
  double loss, lr;
} Step;

typedef struct
{
  guint epoch, step;
  char *block, *reason;
} Stage;

struct _GraftRunHistory
{
  GArray *steps;           /* Step */
  GPtrArray *epochs;       /* GraftEpochReport * */
  GArray *stages;          /* Stage */
  guint best_epoch;
  gint64 trainable;        /* -1: not known yet */
  char *stop_reason;
  double wall_before;      /* seconds of earlier sessions (resumed runs) */
  gint64 session_start;
};

static void
stage_clear (gpointer data)
{
  Stage *s = data;

  g_free (s->block);
  g_free (s->reason);
}

GraftRunHistory *
graft_run_history_new (void)
{
  GraftRunHistory *h = g_new0 (GraftRunHistory, 1);

  h->steps = g_array_new (FALSE, FALSE, sizeof (Step));
  h->epochs = g_ptr_array_new_with_free_func
    ((GDestroyNotify) graft_epoch_report_free);
  h->stages = g_array_new (FALSE, FALSE, sizeof (Stage));
  g_array_set_clear_func (h->stages, stage_clear);
  h->session_start = g_get_monotonic_time ();
  h->trainable = -1;
  return h;
}

void
graft_run_history_free (GraftRunHistory *h)
{
  if (h == NULL)
    return;
  g_array_unref (h->steps);
  g_ptr_array_unref (h->epochs);
  g_array_unref (h->stages);
  g_free (h->stop_reason);
  g_free (h);
}

void
graft_run_history_add_step (GraftRunHistory *h, guint step, guint epoch,
                            double loss, double lr)
{
  Step s = { step, epoch, loss, lr };

  g_array_append_val (h->steps, s);
}

void
graft_run_history_add_epoch (GraftRunHistory *h, const GraftEpochReport *r)
{
  g_ptr_array_add (h->epochs, graft_epoch_report_copy (r));
}

void
graft_run_history_add_stage (GraftRunHistory *h, guint epoch, guint step,
                             const char *block, const char *reason)
{
  Stage s = { epoch, step, g_strdup (block), g_strdup (reason) };

  g_array_append_val (h->stages, s);
}

void
graft_run_history_set_best (GraftRunHistory *h, guint epoch)
{
  h->best_epoch = epoch;
}

void
graft_run_history_set_trainable (GraftRunHistory *h, guint64 n_params)
{
  h->trainable = (gint64) MIN (n_params, (guint64) G_MAXINT64);
}

guint
graft_run_history_best (GraftRunHistory *h, double *loss)
{
  *loss = INFINITY;
  for (guint i = 0; i < h->epochs->len; i++)
    {
      GraftEpochReport *r = h->epochs->pdata[i];
      if (r->epoch == h->best_epoch)
        *loss = r->val_loss;
    }
  return isfinite (*loss) ? h->best_epoch : 0;
}

guint
graft_run_history_n_epochs (GraftRunHistory *h)
{
  return h->epochs->len;
}

const GraftEpochReport *
graft_run_history_get_epoch (GraftRunHistory *h, guint index)
{
  g_return_val_if_fail (index < h->epochs->len, NULL);
  return h->epochs->pdata[index];
}

void
graft_run_history_truncate (GraftRunHistory *h, guint steps, guint epochs)
{
  while (h->steps->len > 0
         && g_array_index (h->steps, Step, h->steps->len - 1).step >= steps)
    g_array_set_size (h->steps, h->steps->len - 1);
  while (h->epochs->len > 0
         && ((GraftEpochReport *) h->epochs->pdata[h->epochs->len - 1])->epoch
            > epochs)
    g_ptr_array_set_size (h->epochs, h->epochs->len - 1);
  /* A stage that began at the checkpoint's step was entered after it was
   * written: the resumed run enters it again. */
  while (h->stages->len > 0
         && g_array_index (h->stages, Stage, h->stages->len - 1).step >= steps)
    g_array_set_size (h->stages, h->stages->len - 1);
  if (h->best_epoch > epochs)
    h->best_epoch = 0;
}

void
graft_run_history_finish (GraftRunHistory *h, const char *stop_reason,
                          double session_seconds)
{
  g_free (h->stop_reason);
  h->stop_reason = g_strdup (stop_reason);
}

/* The items reported before step @before: the epochs that ended there,
 * then the stage entered there.  From *@epoch and *@stage on, which
 * move past what was visited. */
static void
visit_before (GraftRunHistory *h, guint before, guint *epoch, guint *stage,
              GraftRunHistoryFunc func, gpointer user_data)
{
  for (; *epoch < h->epochs->len; ++*epoch)
    {
      const GraftEpochReport *r = h->epochs->pdata[*epoch];
      if (r->step > before)
        break;
      func (NULL, r, NULL, user_data);
    }
  for (; *stage < h->stages->len; ++*stage)
    {
      const Stage *s = &g_array_index (h->stages, Stage, *stage);
      GraftStageEvent event = { s->epoch, s->step, s->block, s->reason };
      if (s->step > before)
        break;
      func (NULL, NULL, &event, user_data);
    }
}

void
graft_run_history_foreach (GraftRunHistory *h, GraftRunHistoryFunc func,
                           gpointer user_data)
{
  guint epoch = 0, stage = 0;

  for (guint i = 0; i < h->steps->len; i++)
    {
      const Step *s = &g_array_index (h->steps, Step, i);
      GraftStepPoint point = { s->step, s->epoch, s->loss, s->lr, 0 };
      visit_before (h, s->step, &epoch, &stage, func, user_data);
      func (&point, NULL, NULL, user_data);
    }
  visit_before (h, G_MAXUINT, &epoch, &stage, func, user_data);
}

static double
wall_seconds (GraftRunHistory *h)
{
  return h->wall_before
    + (g_get_monotonic_time () - h->session_start) / (double) G_USEC_PER_SEC;
}

/* ---- Writing ------------------------------------------------------------------ */

/* JSON has no NaN: an unknown number is null. */
static void
add_number (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_epoch (JsonBuilder *b, const GraftEpochReport *r)
{
  guint k = r->n_classes;

  json_builder_begin_object (b);
  add_int (b, "epoch", r->epoch);
  add_int (b, "step", r->step);
  add_number (b, "train_loss", r->train_loss);
  add_number (b, "val_loss", r->val_loss);
  add_number (b, "val_accuracy", r->val_accuracy);
  add_number (b, "seconds", r->seconds);
  json_builder_set_member_name (b, "class_accuracy");
  json_builder_begin_array (b);
  for (guint c = 0; c < k; c++)
    if (isfinite (r->class_accuracy[c]))
      json_builder_add_double_value (b, r->class_accuracy[c]);
    else
      json_builder_add_null_value (b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (guint t = 0; t < k; t++)
    {
      json_builder_begin_array (b);
      for (guint p = 0; p < k; p++)
        json_builder_add_int_value (b, r->confusion[t * k + p]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
add_history (JsonBuilder *b, GraftRunHistory *h)
{
  json_builder_set_member_name (b, "history");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint i = 0; i < h->steps->len; i++)
    {
      Step *s = &g_array_index (h->steps, Step, i);
      json_builder_begin_object (b);
      add_int (b, "step", s->step);
      add_int (b, "epoch", s->epoch);
      add_number (b, "loss", s->loss);
      add_number (b, "lr", s->lr);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "epochs");
  json_builder_begin_array (b);
  for (guint i = 0; i < h->epochs->len; i++)
    add_epoch (b, h->epochs->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
add_stages (JsonBuilder *b, GraftRunHistory *h)
{
  json_builder_set_member_name (b, "stages");
  json_builder_begin_array (b);
  for (guint i = 0; i < h->stages->len; i++)
    {
      Stage *s = &g_array_index (h->stages, Stage, i);
      json_builder_begin_object (b);
      add_int (b, "epoch", s->epoch);
      add_int (b, "step", s->step);
      json_builder_set_member_name (b, "block");
      json_builder_add_string_value (b, s->block);
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, s->reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* The metrics of the weights a user keeps: the best epoch's. */
static void
add_final (JsonBuilder *b, GraftRunHistory *h)
{
  double loss = NAN, accuracy = NAN;

  for (guint i = 0; i < h->epochs->len; i++)
    {
      GraftEpochReport *r = h->epochs->pdata[i];
      if (r->epoch == h->best_epoch)
        {
          loss = r->val_loss;
          accuracy = r->val_accuracy;
        }
    }
  json_builder_set_member_name (b, "final");
  json_builder_begin_object (b);
  add_number (b, "val_loss", loss);
  add_number (b, "val_accuracy", accuracy);
  add_int (b, "best_epoch", h->best_epoch);
  add_int (b, "epochs", h->epochs->len);
  add_number (b, "wall_seconds", wall_seconds (h));
  json_builder_set_member_name (b, "stop_reason");
  if (h->stop_reason != NULL)
    json_builder_add_string_value (b, h->stop_reason);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static gboolean
write_json (const char *path, JsonNode *root, GError **error)
{
  g_autofree char *text = graft_json_to_text (root, TRUE);

  return g_file_set_contents (path, text, -1, error);
}

gboolean
graft_run_files_write (const char *run_dir, const GraftRunConfig *config,
                       JsonNode *data, GraftRunHistory *h,
                       const char *status, const char *message,
                       GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *path = g_build_filename (run_dir, GRAFT_RUN_JSON, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "graft_version");
  json_builder_add_string_value (b, GRAFT_VERSION);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, status);
  json_builder_set_member_name (b, "message");
  if (message != NULL)
    json_builder_add_string_value (b, message);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "config");
  json_builder_add_value (b, graft_run_config_to_json (config));
  json_builder_set_member_name (b, "data");
  if (data != NULL)
    json_builder_add_value (b, json_node_copy (data));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "trainable_parameters");
  if (h->trainable >= 0)
    json_builder_add_int_value (b, h->trainable);
  else
    json_builder_add_null_value (b);
  add_history (b, h);
  add_stages (b, h);
  add_final (b, h);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return write_json (path, root, error);
}

/* ---- Reading ------------------------------------------------------------------ */

static JsonObject *
read_run_json (const char *run_dir, JsonParser *parser, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, GRAFT_RUN_JSON, NULL);
  JsonNode *root;

  if (!graft_json_load_file (parser, path, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a run description", path);
      return NULL;
    }
  return json_node_get_object (root);
}

GraftRunConfig *
graft_run_files_read_config (const char *run_dir, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *run = read_run_json (run_dir, parser, error);
  JsonNode *config;

  if (run == NULL)
    return NULL;
  config = json_object_get_member (run, "config");
  if (config == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s/run.json has no configuration", run_dir);
      return NULL;
    }
  return graft_run_config_from_json (config, error);
}

/* ---- Typed members ----------------------------------------------------------
 *
 * run.json may have been damaged or edited: every member is checked for
 * its type and range before it is used, and the first that is wrong
 * refuses the whole file with one line that names it ("history.epochs[2].
 * class_accuracy: expected an array").  @where is that name's prefix. */

static gboolean G_GNUC_PRINTF (2, 3)
refuse (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message);
  return FALSE;
}

static gboolean
node_is (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
    && json_node_get_value_type (node) == type;
}

/* An integer in [0, G_MAXUINT]. */
static gboolean
get_count (JsonObject *o, const char *where, const char *name, guint *out,
           GError **error)
{
  JsonNode *node = json_object_get_member (o, name);

  if (!node_is (node, G_TYPE_INT64) || json_node_get_int (node) < 0
      || json_node_get_int (node) > G_MAXUINT)
    return refuse (error, "%s%s: expected a count", where, name);
  *out = (guint) json_node_get_int (node);
  return TRUE;
}

/* A number, or null (and absent) for one not known: NAN. */
static gboolean
get_number (JsonObject *o, const char *where, const char *name, double *out,
            GError **error)
{
  JsonNode *node = json_object_get_member (o, name);

  *out = NAN;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is (node, G_TYPE_DOUBLE) && !node_is (node, G_TYPE_INT64))
    return refuse (error, "%s%s: expected a number", where, name);
  *out = json_node_get_double (node);
  return TRUE;
}

static JsonArray *
get_array (JsonObject *o, const char *where, const char *name, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      refuse (error, "%s%s: expected an array", where, name);
      return NULL;
    }
  return json_node_get_array (node);
}

/* Element @i of @array as an object. */
static JsonObject *
get_element (JsonArray *array, guint i, const char *where, GError **error)
{
  JsonNode *node = json_array_get_element (array, i);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      refuse (error, "%s[%u]: expected an object", where, i);
      return NULL;
    }
  return json_node_get_object (node);
}

static gboolean
get_string (JsonObject *o, const char *where, const char *name,
            const char **out, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);

  if (!node_is (node, G_TYPE_STRING))
    return refuse (error, "%s%s: expected a string", where, name);
  *out = json_node_get_string (node);
  return TRUE;
}

/* ---- The history -------------------------------------------------------------- */

static gboolean
parse_class_accuracy (GraftEpochReport *r, JsonArray *acc, const char *where,
                      GError **error)
{
  for (guint c = 0; c < r->n_classes; c++)
    {
      JsonNode *v = json_array_get_element (acc, c);
      if (JSON_NODE_HOLDS_NULL (v))
        r->class_accuracy[c] = NAN;
      else if (node_is (v, G_TYPE_DOUBLE) || node_is (v, G_TYPE_INT64))
        r->class_accuracy[c] = json_node_get_double (v);
      else
        return refuse (error, "%sclass_accuracy[%u]: expected a number",
                       where, c);
    }
  return TRUE;
}

/* A k×k array of counts, checked whole before anything is allocated:
 * its size then follows from the file's, never from k alone. */
static gboolean
check_confusion (JsonArray *confusion, guint k, const char *where,
                 GError **error)
{
  if (json_array_get_length (confusion) != k)
    return refuse (error, "%sconfusion: expected %u rows", where, k);
  for (guint t = 0; t < k; t++)
    {
      JsonNode *row = json_array_get_element (confusion, t);
      JsonArray *cells = JSON_NODE_HOLDS_ARRAY (row)
        ? json_node_get_array (row) : NULL;
      if (cells == NULL || json_array_get_length (cells) != k)
        return refuse (error, "%sconfusion[%u]: expected %u counts", where,
                       t, k);
      for (guint p = 0; p < k; p++)
        {
          JsonNode *v = json_array_get_element (cells, p);
          if (!node_is (v, G_TYPE_INT64) || json_node_get_int (v) < 0
              || json_node_get_int (v) > G_MAXUINT)
            return refuse (error, "%sconfusion[%u][%u]: expected a count",
                           where, t, p);
        }
    }
  return TRUE;
}

static void
fill_confusion (GraftEpochReport *r, JsonArray *confusion)
{
  gsize k = r->n_classes;

  for (gsize t = 0; t < k; t++)
    {
      JsonArray *row = json_array_get_array_element (confusion, (guint) t);
      for (gsize p = 0; p < k; p++)
        r->confusion[t * k + p] = (guint) json_array_get_int_element
          (row, (guint) p);
    }
}

static GraftEpochReport *
parse_epoch (JsonObject *o, const char *where, GError **error)
{
  g_autoptr (GraftEpochReport) r = g_new0 (GraftEpochReport, 1);
  JsonArray *acc = get_array (o, where, "class_accuracy", error);
  JsonNode *confusion = json_object_get_member (o, "confusion");
  gboolean has_confusion = confusion != NULL
    && !JSON_NODE_HOLDS_NULL (confusion);
  gsize k;

  if (acc == NULL)
    return NULL;
  k = json_array_get_length (acc);
  if (has_confusion && !JSON_NODE_HOLDS_ARRAY (confusion))
    return refuse (error, "%sconfusion: expected an array", where), NULL;
  if (!get_count (o, where, "epoch", &r->epoch, error)
      || !get_count (o, where, "step", &r->step, error)
      || !get_number (o, where, "train_loss", &r->train_loss, error)
      || !get_number (o, where, "val_loss", &r->val_loss, error)
      || !get_number (o, where, "val_accuracy", &r->val_accuracy, error)
      || !get_number (o, where, "seconds", &r->seconds, error)
      || (has_confusion && !check_confusion (json_node_get_array (confusion),
                                             (guint) k, where, error)))
    return NULL;
  r->n_classes = (guint) k;
  r->class_accuracy = g_new0 (double, MAX (k, 1));
  /* Zeros when an older file has no confusion: never k*k from k alone. */
  r->confusion = g_new0 (guint, has_confusion ? MAX (k * k, 1) : 1);
  if (!has_confusion)
    r->n_classes = 0;
  if (!parse_class_accuracy (r, acc, where, error))
    return NULL;
  if (has_confusion)
    fill_confusion (r, json_node_get_array (confusion));
  return g_steal_pointer (&r);
}

static gboolean
parse_steps (GraftRunHistory *h, JsonArray *steps, GError **error)
{
  for (guint i = 0; i < json_array_get_length (steps); i++)
    {
      g_autofree char *where = g_strdup_printf ("history.steps[%u].", i);
      JsonObject *s = get_element (steps, i, "history.steps", error);
      Step step;
      if (s == NULL
          || !get_count (s, where, "step", &step.step, error)
          || !get_count (s, where, "epoch", &step.epoch, error)
          || !get_number (s, where, "loss", &step.loss, error)
          || !get_number (s, where, "lr", &step.lr, error))
        return FALSE;
      g_array_append_val (h->steps, step);
    }
  return TRUE;
}

static gboolean
parse_epochs (GraftRunHistory *h, JsonArray *epochs, GError **error)
{
  for (guint i = 0; i < json_array_get_length (epochs); i++)
    {
      g_autofree char *where = g_strdup_printf ("history.epochs[%u].", i);
      JsonObject *o = get_element (epochs, i, "history.epochs", error);
      GraftEpochReport *r = o != NULL ? parse_epoch (o, where, error) : NULL;
      if (r == NULL)
        return FALSE;
      g_ptr_array_add (h->epochs, r);
    }
  return TRUE;
}

static gboolean
parse_stages (GraftRunHistory *h, JsonArray *stages, GError **error)
{
  for (guint i = 0; stages != NULL && i < json_array_get_length (stages); i++)
    {
      g_autofree char *where = g_strdup_printf ("stages[%u].", i);
      JsonObject *s = get_element (stages, i, "stages", error);
      guint epoch, step;
      const char *block = NULL, *reason = NULL;
      if (s == NULL
          || !get_count (s, where, "epoch", &epoch, error)
          || !get_count (s, where, "step", &step, error)
          || !get_string (s, where, "block", &block, error)
          || !get_string (s, where, "reason", &reason, error))
        return FALSE;
      graft_run_history_add_stage (h, epoch, step, block, reason);
    }
  return TRUE;
}

static gboolean
parse_final (GraftRunHistory *h, JsonObject *run, GError **error)
{
  JsonNode *node = json_object_get_member (run, "final");
  JsonObject *final;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return refuse (error, "final: expected an object");
  final = json_node_get_object (node);
  if (!get_count (final, "final.", "best_epoch", &h->best_epoch, error)
      || !get_number (final, "final.", "wall_seconds", &h->wall_before,
                      error))
    return FALSE;
  if (!isfinite (h->wall_before) || h->wall_before < 0)
    h->wall_before = 0;
  return TRUE;
}

static gboolean
parse_history (GraftRunHistory *h, JsonObject *run, GError **error)
{
  JsonNode *history = json_object_get_member (run, "history");
  JsonNode *stages = json_object_get_member (run, "stages");
  JsonNode *trainable = json_object_get_member (run, "trainable_parameters");
  JsonArray *steps, *epochs;

  if (history == NULL || !JSON_NODE_HOLDS_OBJECT (history))
    return refuse (error, "history: expected an object");
  if (stages != NULL && !JSON_NODE_HOLDS_ARRAY (stages))
    return refuse (error, "stages: expected an array");
  if (trainable != NULL && !JSON_NODE_HOLDS_NULL (trainable)
      && !node_is (trainable, G_TYPE_INT64))
    return refuse (error, "trainable_parameters: expected a count");
  /* Kept for a resume that fails before it has entered its stage. */
  if (node_is (trainable, G_TYPE_INT64))
    h->trainable = MAX (json_node_get_int (trainable), -1);
  steps = get_array (json_node_get_object (history), "history.", "steps",
                     error);
  epochs = steps == NULL ? NULL
    : get_array (json_node_get_object (history), "history.", "epochs", error);
  return epochs != NULL && parse_steps (h, steps, error)
    && parse_epochs (h, epochs, error)
    && parse_stages (h, stages != NULL ? json_node_get_array (stages) : NULL,
                     error)
    && parse_final (h, run, error);
}

/* The history of @run_dir's run.json, which must be @finished or not. */
static GraftRunHistory *
read_history (const char *run_dir, gboolean finished, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *run = read_run_json (run_dir, parser, error);
  g_autoptr (GraftRunHistory) h = NULL;
  JsonNode *status;
  gboolean is_finished;

  if (run == NULL)
    return NULL;
  status = json_object_get_member (run, "status");
  if (status != NULL && !node_is (status, G_TYPE_STRING))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s/run.json: status: expected a string", run_dir);
      return NULL;
    }
  is_finished = status != NULL
                && g_str_equal (json_node_get_string (status), "finished");
  if (is_finished && !finished)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s has finished already; nothing to resume", run_dir);
      return NULL;
    }
  if (!is_finished && finished)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s/run.json: the run has not finished (status %s)",
                   run_dir, status != NULL ? json_node_get_string (status)
                                           : "missing");
      return NULL;
    }
  if (!json_object_has_member (run, "history"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s/run.json has no history", run_dir);
      return NULL;
    }
  h = graft_run_history_new ();
  if (!parse_history (h, run, error))
    {
      g_prefix_error (error, "%s/run.json: ", run_dir);
      return NULL;
    }
  return g_steal_pointer (&h);
}

GraftRunHistory *
graft_run_files_read_history (const char *run_dir, GError **error)
{
  return read_history (run_dir, FALSE, error);
}

GraftRunHistory *
graft_run_files_read_finished (const char *run_dir, GError **error)
{
  return read_history (run_dir, TRUE, error);
}

/* ---- The lock ----------------------------------------------------------- */

/* graft_run_files_in_use () takes a shared lock for an instant to look:
 * a trainer that tries at that instant waits for it, a little, rather
 * than refusing a folder nobody trains. */
#define LOCK_TRIES 50
#define LOCK_RETRY_US (2 * 1000)

/* The files a run writes whole under a temporary name "FILE.XXXXXX" (or
 * ".FILE.XXXXXX", the ONNX writer's) and renames. */
static const char *const written_files[] = {
  GRAFT_RUN_JSON, "checkpoint.safetensors", "best.safetensors", "head.json",
  "head.safetensors", "head.onnx", "model.onnx",
};
#define TEMP_SUFFIX_CHARS 6   /* mkstemp ()'s XXXXXX */

static gboolean
is_leftover (const char *name)
{
  if (name[0] == '.')
    name++;
  for (gsize i = 0; i < G_N_ELEMENTS (written_files); i++)
    {
      gsize n = strlen (written_files[i]);
      if (strncmp (name, written_files[i], n) == 0 && name[n] == '.'
          && strlen (name + n + 1) == TEMP_SUFFIX_CHARS)
        return TRUE;
    }
  return FALSE;
}

/* A writer killed mid-write (SIGKILL, SIGXFSZ) leaves its temporary
 * file; the next trainer of the folder, holding the lock, removes it. */
static void
remove_leftovers (const char *run_dir)
{
  g_autoptr (GDir) dir = g_dir_open (run_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (is_leftover (name))
      {
        g_autofree char *path = g_build_filename (run_dir, name, NULL);
        g_unlink (path);
      }
}

int
graft_run_files_lock (const char *run_dir, GError **error)
{
  g_autofree char *path = g_build_filename (run_dir, GRAFT_RUN_LOCK, NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  int saved;

  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create %s: %s", path, g_strerror (saved));
      return -1;
    }
  for (guint i = 0; flock (fd, LOCK_EX | LOCK_NB) != 0; i++)
    {
      saved = errno;
      if (saved == EWOULDBLOCK && i + 1 < LOCK_TRIES)
        {
          g_usleep (LOCK_RETRY_US);
          continue;
        }
      close (fd);
      if (saved == EWOULDBLOCK)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                     "%s is being trained by another Graft run", run_dir);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "cannot lock %s: %s", path, g_strerror (saved));
      return -1;
    }
  remove_leftovers (run_dir);
  return fd;
}

gboolean
graft_run_files_in_use (const char *run_dir)
{
  g_autofree char *path = g_build_filename (run_dir, GRAFT_RUN_LOCK, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean busy;

  if (fd < 0)
    return FALSE;
  /* A fresh descriptor is its own open file description: a lock this
   * process holds through another one conflicts with it too. */
  busy = flock (fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close (fd);   /* and with it the shared lock, if taken */
  return busy;
}

/* ---- head.json ------------------------------------------------------------------ */

static char *
file_sha256 (const char *path)
{
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);

  if (file == NULL)
    return g_strdup ("");
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guchar *) g_mapped_file_get_contents
                                      (file), g_mapped_file_get_length (file));
}

static void
add_triple (JsonBuilder *b, const char *name, const double *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int c = 0; c < 3; c++)
    json_builder_add_double_value (b, values[c]);
  json_builder_end_array (b);
}

void
graft_run_files_add_preprocess (JsonBuilder *b, const GfPreprocess *pre)
{
  json_builder_set_member_name (b, "size");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, (gint64) pre->height);
  json_builder_add_int_value (b, (gint64) pre->width);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "resize");
  json_builder_add_string_value (b, pre->resize == GF_RESIZE_SQUASH
                                 ? "squash" : "shorter-crop");
  json_builder_set_member_name (b, "channels");
  json_builder_add_string_value (b, pre->order == GF_CHANNELS_BGR ? "BGR"
                                 : "RGB");
  add_number (b, "scale", pre->scale);
  add_triple (b, "mean", pre->mean);
  add_triple (b, "std", pre->std);
}

static void
add_head_layout (JsonBuilder *b, const GraftHeadLayout *head)
{
  json_builder_set_member_name (b, "head");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "layers");
  json_builder_add_string_value (b, head->hidden
                                 ? "GlobalAveragePool, Dense+ReLU, Dropout, "
                                   "Dense"
                                 : "GlobalAveragePool, Dropout, Dense");
  add_int (b, "hidden", head->hidden);
  add_number (b, "dropout", head->dropout);
  add_int (b, "outputs", head->sigmoid ? 1 : head->n_classes);
  json_builder_set_member_name (b, "output");
  json_builder_add_string_value (b, head->sigmoid ? "sigmoid" : "softmax");
  json_builder_end_object (b);
}

gboolean
graft_run_files_write_head_json (const char *run_dir, const GfModel *model,
                                 const char *backbone_path, int cut,
                                 const GraftHeadLayout *head, char **labels,
                                 GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *path = g_build_filename (run_dir, "head.json", NULL);
  g_autofree char *sha = file_sha256 (backbone_path);
  size_t dims[GF_MAX_DIMS];

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "labels");
  json_builder_begin_array (b);
  for (guint i = 0; labels[i] != NULL; i++)
    json_builder_add_string_value (b, labels[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "backbone");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, model->name);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, sha);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "cut");
  json_builder_add_string_value (b, gf_graph_tensor_name (model->graph, cut));
  json_builder_set_member_name (b, "bottleneck_shape");
  json_builder_begin_array (b);
  gf_graph_tensor_shape (model->graph, cut, dims);
  for (int i = 1; i < 4; i++)
    json_builder_add_int_value (b, (gint64) dims[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "preprocess");
  json_builder_begin_object (b);
  graft_run_files_add_preprocess (b, &model->preprocess);
  json_builder_end_object (b);
  add_head_layout (b, head);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return write_json (path, root, error);
}
