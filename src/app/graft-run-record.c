/* graft-run-record.c: a run folder, read once on a worker.
 *
 * run.json is parsed here rather than through graft_run_files_read_history
 * because that one is for resuming: it refuses finished runs, and keeps
 * no per-step times.  Predictions are not in run.json: they come from
 * the run's own model.onnx over its validation split, which the data
 * layer rebuilds exactly from the configuration (same folders, seed and
 * fraction), so they match what the run validated on. */
#define G_LOG_DOMAIN "graft-run-record"

#include "graft-run-record.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>

#include "graft-backbone.h"
#include "graft-json.h"
#include "graft-run-data.h"
#include "graft-run-files.h"

#define APP_JSON "app.json"

typedef struct
{
  guint step, epoch;
  double loss;
} Step;

struct _GraftRunRecord
{
  GObject parent_instance;

  char *dir, *folder_name, *name, *status;
  GraftRunConfig *config;
  GDateTime *date;
  GStrv class_names;
  GArray *steps;              /* Step */
  GPtrArray *epochs;          /* GraftEpochReport * */
  guint best_epoch;
  double wall_seconds;
  guint n_train;
  gboolean has_trainable;
  guint64 trainable;
  gboolean in_use;            /* a trainer held the lock when read */

  gboolean saving, save_again;
  gboolean predicting;
  GraftRunPredictions *predictions;
  char *predictions_error;
};

G_DEFINE_FINAL_TYPE (GraftRunRecord, graft_run_record, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_SAVING, PROP_PREDICTIONS, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
predictions_free (GraftRunPredictions *p)
{
  g_strfreev (p->paths);
  g_free (p->truth);
  g_free (p->predicted);
  g_free (p);
}

/* ---- Reading run.json (worker) -------------------------------------------
 *
 * run.json may have been damaged or edited, and the run list shows every
 * folder it finds: the file is refused whole (one line) only when it
 * cannot be read or parsed, or its configuration is unusable.  Past that
 * each member is taken only with the type and range it should have, and
 * is otherwise absent (a number NaN, a count 0, a string its default); a
 * step or epoch that is not an object is left out, and so are an epoch's
 * per-class results unless they are whole and for the run's classes. */

static gboolean
node_is (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
    && json_node_get_value_type (node) == type;
}

static JsonNode *
member (JsonObject *o, const char *name)
{
  return o != NULL ? json_object_get_member (o, name) : NULL;
}

/* A number, else NaN. */
static double
number_of (JsonNode *node)
{
  return node_is (node, G_TYPE_DOUBLE) || node_is (node, G_TYPE_INT64)
    ? json_node_get_double (node) : NAN;
}

/* An integer in [0, G_MAXUINT] into @out, else FALSE. */
static gboolean
count_of (JsonNode *node, guint *out)
{
  if (!node_is (node, G_TYPE_INT64) || json_node_get_int (node) < 0
      || json_node_get_int (node) > G_MAXUINT)
    return FALSE;
  *out = (guint) json_node_get_int (node);
  return TRUE;
}

/* A string in valid UTF-8 (it is shown), else @fallback. */
static const char *
string_of (JsonNode *node, const char *fallback)
{
  const char *s = node_is (node, G_TYPE_STRING)
    ? json_node_get_string (node) : NULL;

  return s != NULL && g_utf8_validate (s, -1, NULL) ? s : fallback;
}

static double
get_number (JsonObject *o, const char *name)
{
  return number_of (member (o, name));
}

/* 0 when absent or not a count. */
static guint
get_count (JsonObject *o, const char *name)
{
  guint n = 0;

  return count_of (member (o, name), &n) ? n : 0;
}

static JsonArray *
array_of (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_ARRAY (node)
    ? json_node_get_array (node) : NULL;
}

static JsonObject *
object_of (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node)
    ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_member (JsonObject *o, const char *name)
{
  return array_of (member (o, name));
}

static JsonObject *
object_member (JsonObject *o, const char *name)
{
  return object_of (member (o, name));
}

static guint
length_of (JsonArray *array)
{
  return array != NULL ? json_array_get_length (array) : 0;
}

/* Whether @rows is a k×k array of counts, checked whole before anything
 * is allocated: k×k then follows from the file's size, never from k. */
static gboolean
is_confusion (JsonArray *rows, guint k)
{
  guint unused;

  if (length_of (rows) != k)
    return FALSE;
  for (guint t = 0; t < k; t++)
    {
      JsonArray *row = array_of (json_array_get_element (rows, t));
      if (length_of (row) != k)
        return FALSE;
      for (guint p = 0; p < k; p++)
        if (!count_of (json_array_get_element (row, p), &unused))
          return FALSE;
    }
  return TRUE;
}

/* The per-class accuracy and confusion of @o into @r when they are for
 * the run's @k classes (the Compare page labels them with the class
 * names); else none. */
static void
read_per_class (GraftEpochReport *r, JsonObject *o, guint k)
{
  JsonArray *acc = array_member (o, "class_accuracy");
  JsonArray *rows = array_member (o, "confusion");

  if (k == 0 || length_of (acc) != k || !is_confusion (rows, k))
    {
      r->class_accuracy = g_new0 (double, 1);
      r->confusion = g_new0 (guint, 1);
      return;
    }
  r->n_classes = k;
  r->class_accuracy = g_new (double, k);
  r->confusion = g_new0 (guint, (gsize) k * k);
  for (guint c = 0; c < k; c++)
    r->class_accuracy[c] = number_of (json_array_get_element (acc, c));
  for (guint t = 0; t < k; t++)
    {
      JsonArray *row = json_array_get_array_element (rows, t);
      for (guint p = 0; p < k; p++)
        count_of (json_array_get_element (row, p),
                  &r->confusion[(gsize) t * k + p]);
    }
}

static GraftEpochReport *
read_epoch (JsonObject *o, guint n_classes)
{
  GraftEpochReport *r = g_new0 (GraftEpochReport, 1);

  r->epoch = get_count (o, "epoch");
  r->step = get_count (o, "step");
  r->train_loss = get_number (o, "train_loss");
  r->val_loss = get_number (o, "val_loss");
  r->val_accuracy = get_number (o, "val_accuracy");
  r->seconds = get_number (o, "seconds");
  read_per_class (r, o, n_classes);
  return r;
}

static void
read_history (GraftRunRecord *self, JsonObject *run)
{
  JsonObject *history = object_member (run, "history");
  JsonArray *steps = array_member (history, "steps");
  JsonArray *epochs = array_member (history, "epochs");
  guint n_steps = length_of (steps);
  guint n_classes = g_strv_length (self->class_names);

  for (guint i = 0; i < n_steps; i++)
    {
      JsonObject *s = object_of (json_array_get_element (steps, i));
      Step step = { get_count (s, "step"), get_count (s, "epoch"),
                    get_number (s, "loss") };

      /* The curves keep a slot per epoch up to the highest a step names;
       * epochs count from 1, and each has a step. */
      if (s != NULL && step.epoch >= 1 && step.epoch <= n_steps)
        g_array_append_val (self->steps, step);
    }
  for (guint i = 0; i < length_of (epochs); i++)
    {
      JsonObject *o = object_of (json_array_get_element (epochs, i));
      if (o != NULL)
        g_ptr_array_add (self->epochs, read_epoch (o, n_classes));
    }
}

static void
read_summary (GraftRunRecord *self, JsonObject *run)
{
  JsonObject *final = object_member (run, "final");
  JsonObject *data = object_member (run, "data");
  JsonArray *classes = array_member (data, "classes");
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  JsonNode *trainable = member (run, "trainable_parameters");

  self->status = g_strdup (string_of (member (run, "status"), "running"));
  self->best_epoch = get_count (final, "best_epoch");
  self->wall_seconds = get_number (final, "wall_seconds");
  self->n_train = get_count (data, "train");
  for (guint i = 0; i < length_of (classes); i++)
    g_strv_builder_add (names, string_of (json_array_get_element (classes, i),
                                          ""));
  self->class_names = g_strv_builder_end (names);
  if (!node_is (trainable, G_TYPE_INT64))
    trainable = member (final, "trainable_parameters");
  self->has_trainable = node_is (trainable, G_TYPE_INT64)
    && json_node_get_int (trainable) >= 0;
  self->trainable = self->has_trainable
    ? (guint64) json_node_get_int (trainable) : 0;
}

/* The user's name from app.json, if any. */
static void
read_app_json (GraftRunRecord *self)
{
  g_autofree char *path = g_build_filename (self->dir, APP_JSON, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *name;

  if (!graft_json_load_file (parser, path, NULL))
    return;
  name = string_of (member (object_of (json_parser_get_root (parser)),
                            "name"), NULL);
  if (name != NULL && *name != '\0')
    {
      g_free (self->name);
      self->name = g_strdup (name);
    }
}

/* The app names run folders 2026-12-04-153012-MODE. */
static GDateTime *
read_date (const char *folder_name, const char *run_json)
{
  int y, mo, d, h, mi, s;
  GStatBuf st;

  if (sscanf (folder_name, "%4d-%2d-%2d-%2d%2d%2d", &y, &mo, &d, &h, &mi,
              &s) == 6)
    {
      GDateTime *date = g_date_time_new_local (y, mo, d, h, mi, s);
      if (date != NULL)
        return date;
    }
  if (g_stat (run_json, &st) == 0)
    return g_date_time_new_from_unix_local (st.st_mtime);
  return g_date_time_new_now_local ();
}

GraftRunRecord *
graft_run_record_load (const char *dir, GError **error)
{
  g_autoptr (GraftRunRecord) self = g_object_new (GRAFT_TYPE_RUN_RECORD,
                                                  NULL);
  g_autofree char *path = g_build_filename (dir, GRAFT_RUN_JSON, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local_error = NULL;
  JsonObject *run;
  JsonNode *config;

  /* Refuses a FIFO, a huge file and deep nesting before json-glib.
   * json-glib quotes a broken string constant whole, new lines too: the
   * run list shows one line. */
  if (!graft_json_load_file (parser, path, &local_error))
    {
      g_strdelimit (local_error->message, "\r\n", ' ');
      g_propagate_error (error, local_error);
      return NULL;
    }
  run = object_of (json_parser_get_root (parser));
  if ((config = member (run, "config")) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a run description"), path);
      return NULL;
    }
  if ((self->config = graft_run_config_from_json (config, error)) == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  self->dir = g_strdup (dir);
  self->folder_name = g_path_get_basename (dir);
  self->name = g_strdup (self->folder_name);
  self->date = read_date (self->folder_name, path);
  read_summary (self, run);
  read_history (self, run);
  read_app_json (self);
  self->in_use = graft_run_files_in_use (dir);
  return g_steal_pointer (&self);
}

/* ---- Getters ---------------------------------------------------------------- */

const char *
graft_run_record_get_dir (GraftRunRecord *self)
{
  return self->dir;
}

const char *
graft_run_record_get_name (GraftRunRecord *self)
{
  return self->name;
}

gboolean
graft_run_record_get_saving (GraftRunRecord *self)
{
  return self->saving;
}

const GraftRunConfig *
graft_run_record_get_config (GraftRunRecord *self)
{
  return self->config;
}

GraftRunMode
graft_run_record_get_mode (GraftRunRecord *self)
{
  return self->config->mode;
}

GDateTime *
graft_run_record_get_date (GraftRunRecord *self)
{
  return self->date;
}

const char *
graft_run_record_get_status (GraftRunRecord *self)
{
  return self->status;
}

gboolean
graft_run_record_get_interrupted (GraftRunRecord *self)
{
  return g_str_equal (self->status, "running") && !self->in_use;
}

gboolean
graft_run_record_get_resumable (GraftRunRecord *self)
{
  return g_str_equal (self->status, "stopped")
    || graft_run_record_get_interrupted (self);
}

const char *const *
graft_run_record_get_class_names (GraftRunRecord *self)
{
  return (const char *const *) self->class_names;
}

GPtrArray *
graft_run_record_get_epochs (GraftRunRecord *self)
{
  return self->epochs;
}

const GraftEpochReport *
graft_run_record_get_best (GraftRunRecord *self)
{
  for (guint i = 0; i < self->epochs->len; i++)
    {
      const GraftEpochReport *r = self->epochs->pdata[i];
      if (r->epoch == self->best_epoch)
        return r;
    }
  return NULL;
}

const GraftEpochReport *
graft_run_record_get_last (GraftRunRecord *self)
{
  return self->epochs->len > 0
    ? self->epochs->pdata[self->epochs->len - 1] : NULL;
}

double
graft_run_record_get_wall_seconds (GraftRunRecord *self)
{
  return self->wall_seconds;
}

double
graft_run_record_get_pictures_per_second (GraftRunRecord *self)
{
  if (!isfinite (self->wall_seconds) || self->wall_seconds <= 0
      || self->n_train == 0)
    return NAN;
  return (double) self->n_train * self->epochs->len / self->wall_seconds;
}

gboolean
graft_run_record_get_trainable_params (GraftRunRecord *self, guint64 *n)
{
  if (n != NULL)
    *n = self->trainable;
  return self->has_trainable;
}

/* ---- Curves ------------------------------------------------------------------ */

/* Per epoch (from 1): its first step, its number of steps, and the
 * seconds of training before it and in it. */
typedef struct
{
  guint n_epochs;
  guint *first, *count;
  double *before, *seconds;
} EpochSpans;

static void
epoch_spans_init (GraftRunRecord *self, EpochSpans *e)
{
  double known = 0;
  guint n_known = 0;

  e->n_epochs = 0;
  for (guint i = 0; i < self->steps->len; i++)
    e->n_epochs = MAX (e->n_epochs, g_array_index (self->steps, Step, i).epoch);
  e->first = g_new0 (guint, e->n_epochs + 2);
  e->count = g_new0 (guint, e->n_epochs + 2);
  e->before = g_new0 (double, e->n_epochs + 2);
  e->seconds = g_new0 (double, e->n_epochs + 2);
  for (guint i = self->steps->len; i-- > 0;)
    {
      Step *s = &g_array_index (self->steps, Step, i);
      e->first[s->epoch] = s->step;
      e->count[s->epoch]++;
    }
  for (guint i = 0; i < self->epochs->len; i++)
    {
      const GraftEpochReport *r = self->epochs->pdata[i];
      if (r->epoch <= e->n_epochs && isfinite (r->seconds))
        {
          e->seconds[r->epoch] = r->seconds;
          known += r->seconds;
          n_known++;
        }
    }
  /* An epoch cut short has no time of its own: the mean stands in. */
  for (guint k = 1; k <= e->n_epochs; k++)
    {
      if (e->seconds[k] == 0 && n_known > 0)
        e->seconds[k] = known / n_known;
      e->before[k + 1] = e->before[k] + e->seconds[k];
    }
}

static void
epoch_spans_clear (EpochSpans *e)
{
  g_free (e->first);
  g_free (e->count);
  g_free (e->before);
  g_free (e->seconds);
}

/* Where step @s (of epoch @epoch) sits on @axis: at the end of its share
 * of the epoch, so that an epoch's last step meets its validation point. */
static double
step_x (const EpochSpans *e, GraftRunAxis axis, guint step, guint epoch)
{
  double share = epoch <= e->n_epochs && e->count[epoch] > 0
    ? (double) (step - e->first[epoch] + 1) / e->count[epoch] : 1;

  switch (axis)
    {
    case GRAFT_RUN_AXIS_EPOCH: return epoch - 1 + share;
    case GRAFT_RUN_AXIS_TIME:
      return epoch <= e->n_epochs
        ? e->before[epoch] + e->seconds[epoch] * share : NAN;
    case GRAFT_RUN_AXIS_STEP:
    default: return step;
    }
}

static double
epoch_x (const EpochSpans *e, GraftRunAxis axis, const GraftEpochReport *r)
{
  switch (axis)
    {
    case GRAFT_RUN_AXIS_EPOCH: return r->epoch;
    case GRAFT_RUN_AXIS_TIME:
      return r->epoch <= e->n_epochs ? e->before[r->epoch + 1] : NAN;
    case GRAFT_RUN_AXIS_STEP:
    default: return r->step > 0 ? r->step - 1.0 : 0;
    }
}

gsize
graft_run_record_get_curve (GraftRunRecord *self, GraftRunAxis axis,
                            gboolean validation, double **x, double **y)
{
  gsize n = validation ? self->epochs->len : self->steps->len;
  EpochSpans e;

  epoch_spans_init (self, &e);
  *x = g_new (double, MAX (n, 1));
  *y = g_new (double, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      if (validation)
        {
          const GraftEpochReport *r = self->epochs->pdata[i];
          (*x)[i] = epoch_x (&e, axis, r);
          (*y)[i] = r->val_loss;
          continue;
        }
      Step *s = &g_array_index (self->steps, Step, i);
      (*x)[i] = step_x (&e, axis, s->step, s->epoch);
      (*y)[i] = s->loss;
    }
  epoch_spans_clear (&e);
  return n;
}

/* ---- The name ------------------------------------------------------------------ */

static void
save_thread (GTask *task, gpointer source, gpointer task_data,
             GCancellable *cancellable)
{
  const char *dir = g_object_get_data (G_OBJECT (task), "dir");
  g_autofree char *path = g_build_filename (dir, APP_JSON, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GError *error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, task_data);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = graft_json_to_text (root, TRUE);
  if (!g_file_set_contents (path, text, -1, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void start_save (GraftRunRecord *self);

static void
save_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftRunRecord *self = GRAFT_RUN_RECORD (source);
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot keep the run's name: %s", error->message);
  self->saving = FALSE;
  if (self->save_again)
    start_save (self);
  else
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAVING]);
}

/* One write at a time, the latest name last: two quick renames cannot
 * land in the wrong order. */
static void
start_save (GraftRunRecord *self)
{
  g_autoptr (GTask) task = NULL;

  if (self->saving)
    {
      self->save_again = TRUE;
      return;
    }
  self->saving = TRUE;
  self->save_again = FALSE;
  task = g_task_new (self, NULL, save_done, NULL);
  g_task_set_task_data (task, g_strdup (self->name), g_free);
  g_object_set_data_full (G_OBJECT (task), "dir", g_strdup (self->dir),
                          g_free);
  g_task_run_in_thread (task, save_thread);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAVING]);
}

void
graft_run_record_set_name (GraftRunRecord *self, const char *name)
{
  g_autofree char *wanted = g_strstrip (g_strdup (name != NULL ? name : ""));

  g_return_if_fail (GRAFT_IS_RUN_RECORD (self));
  if (*wanted == '\0')
    {
      g_free (wanted);
      wanted = g_strdup (self->folder_name);
    }
  if (g_strcmp0 (wanted, self->name) == 0)
    return;
  g_free (self->name);
  self->name = g_steal_pointer (&wanted);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  start_save (self);
}

/* ---- Predictions ------------------------------------------------------------ */

typedef struct
{
  char *dir;
  GraftRunConfig *config;
} PredictJob;

static void
predict_job_free (PredictJob *job)
{
  g_free (job->dir);
  graft_run_config_free (job->config);
  g_free (job);
}

/* Top-1 of @model for every validation picture of @data. */
static GraftRunPredictions *
predict_split (GraftBackbone *model, GraftRunData *data,
               GCancellable *cancellable, GError **error)
{
  guint n = graft_run_data_n_val (data);
  const guint *val = graft_run_data_val (data);
  GraftRunPredictions *p = g_new0 (GraftRunPredictions, 1);

  p->paths = g_new0 (char *, n + 1);
  p->truth = g_new0 (guint, MAX (n, 1));
  p->predicted = g_new0 (guint, MAX (n, 1));
  for (; p->n < n; p->n++)
    {
      const char *path = graft_run_data_path (data, val[p->n]);
      g_autoptr (GArray) top = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || (top = graft_backbone_predict (model, path, 1, error)) == NULL)
        {
          predictions_free (p);
          return NULL;
        }
      p->paths[p->n] = g_strdup (path);
      p->truth[p->n] = graft_run_data_label (data, val[p->n]);
      p->predicted[p->n] = g_array_index (top, GraftPrediction, 0).index;
    }
  return p;
}

static void
predict_thread (GTask *task, gpointer source, gpointer task_data,
                GCancellable *cancellable)
{
  PredictJob *job = task_data;
  g_autofree char *path = g_build_filename (job->dir, "model.onnx", NULL);
  /* The data layer decodes nothing here: the preprocessing is unused. */
  GfPreprocess pre = { 0 };
  g_autoptr (GraftRunData) data = NULL;
  g_autoptr (GraftBackbone) model = NULL;
  GraftRunPredictions *p;
  GError *error = NULL;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               _("This run has no model: it did not "
                                 "finish."));
      return;
    }
  if ((data = graft_run_data_load (job->config, &pre, NULL, &error)) == NULL
      || (model = graft_backbone_load (path, cancellable, &error)) == NULL
      || (p = predict_split (model, data, cancellable, &error)) == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, p, (GDestroyNotify) predictions_free);
}

static void
predict_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftRunRecord *self = GRAFT_RUN_RECORD (source);
  g_autoptr (GError) error = NULL;

  self->predictions = g_task_propagate_pointer (G_TASK (result), &error);
  if (self->predictions == NULL)
    self->predictions_error = g_strdup (error->message);
  self->predicting = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PREDICTIONS]);
}

void
graft_run_record_ensure_predictions (GraftRunRecord *self)
{
  g_autoptr (GTask) task = NULL;
  PredictJob *job;

  g_return_if_fail (GRAFT_IS_RUN_RECORD (self));
  if (self->predicting || self->predictions != NULL
      || self->predictions_error != NULL)
    return;
  self->predicting = TRUE;
  job = g_new0 (PredictJob, 1);
  job->dir = g_strdup (self->dir);
  job->config = graft_run_config_copy (self->config);
  task = g_task_new (self, NULL, predict_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) predict_job_free);
  g_task_run_in_thread (task, predict_thread);
}

const GraftRunPredictions *
graft_run_record_get_predictions (GraftRunRecord *self)
{
  return self->predictions;
}

const char *
graft_run_record_get_predictions_error (GraftRunRecord *self)
{
  return self->predictions_error;
}

/* ---- GObject ------------------------------------------------------------------ */

static void
graft_run_record_finalize (GObject *object)
{
  GraftRunRecord *self = GRAFT_RUN_RECORD (object);

  g_free (self->dir);
  g_free (self->folder_name);
  g_free (self->name);
  g_free (self->status);
  g_clear_pointer (&self->config, graft_run_config_free);
  g_clear_pointer (&self->date, g_date_time_unref);
  g_strfreev (self->class_names);
  g_array_unref (self->steps);
  g_ptr_array_unref (self->epochs);
  g_clear_pointer (&self->predictions, predictions_free);
  g_free (self->predictions_error);
  G_OBJECT_CLASS (graft_run_record_parent_class)->finalize (object);
}

static void
graft_run_record_get_property (GObject *object, guint prop_id,
                               GValue *value, GParamSpec *pspec)
{
  GraftRunRecord *self = GRAFT_RUN_RECORD (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_SAVING: g_value_set_boolean (value, self->saving); break;
    case PROP_PREDICTIONS: g_value_set_pointer (value, self->predictions);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_run_record_set_property (GObject *object, guint prop_id,
                               const GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_NAME:
      graft_run_record_set_name (GRAFT_RUN_RECORD (object),
                                 g_value_get_string (value));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_run_record_class_init (GraftRunRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY
    | G_PARAM_STATIC_STRINGS;

  object_class->finalize = graft_run_record_finalize;
  object_class->get_property = graft_run_record_get_property;
  object_class->set_property = graft_run_record_set_property;
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               ro | G_PARAM_WRITABLE);
  properties[PROP_SAVING] = g_param_spec_boolean ("saving", NULL, NULL,
                                                  FALSE, ro);
  properties[PROP_PREDICTIONS] = g_param_spec_pointer ("predictions", NULL,
                                                       NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
graft_run_record_init (GraftRunRecord *self)
{
  self->steps = g_array_new (FALSE, FALSE, sizeof (Step));
  self->epochs = g_ptr_array_new_with_free_func
    ((GDestroyNotify) graft_epoch_report_free);
  self->wall_seconds = NAN;
}
