/* graft-project.c: the user's choices as one object the pages view.
 *
 * The scan runs on the data layer's worker (graft_scan_folders_async),
 * whose progress arrives coalesced on the main context; this object turns
 * it into properties a GtkProgressBar can follow.  Classes are kept as a
 * GListStore of GraftClassItem so that the Data page's list and the run's
 * labels are the same thing: a renamed item is the label the run gets. */
#define G_LOG_DOMAIN "graft-project"

#include "graft-project.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "graft-files.h"
#include "graft-project-file.h"
#include "graft-run-files.h"
#include "graft-run-import.h"
#include "graft-run-list.h"

/* ---- GraftClassItem -------------------------------------------------------- */

struct _GraftClassItem
{
  GObject parent_instance;

  char *name;
  char *path;
  guint count, n_train, n_val;
  GStrv pictures;
};

G_DEFINE_FINAL_TYPE (GraftClassItem, graft_class_item, G_TYPE_OBJECT)

/* g_set_str arrived in GLib 2.76; Debian 12 has 2.74. */
static gboolean
set_str (char **slot, const char *value)
{
  if (g_strcmp0 (*slot, value) == 0)
    return FALSE;
  g_free (*slot);
  *slot = g_strdup (value);
  return TRUE;
}

enum { ITEM_PROP_0, ITEM_PROP_NAME, ITEM_PROP_PATH, ITEM_PROP_COUNT,
       ITEM_N_PROPS };
static GParamSpec *item_properties[ITEM_N_PROPS];

const char *
graft_class_item_get_name (GraftClassItem *self)
{
  return self->name;
}

void
graft_class_item_set_name (GraftClassItem *self, const char *name)
{
  g_return_if_fail (GRAFT_IS_CLASS_ITEM (self));
  if (set_str (&self->name, name))
    g_object_notify_by_pspec (G_OBJECT (self), item_properties[ITEM_PROP_NAME]);
}

const char *
graft_class_item_get_path (GraftClassItem *self)
{
  return self->path;
}

guint
graft_class_item_get_count (GraftClassItem *self)
{
  return self->count;
}

guint
graft_class_item_get_n_train (GraftClassItem *self)
{
  return self->n_train;
}

guint
graft_class_item_get_n_val (GraftClassItem *self)
{
  return self->n_val;
}

const char *const *
graft_class_item_get_pictures (GraftClassItem *self)
{
  return (const char *const *) self->pictures;
}

static void
graft_class_item_finalize (GObject *object)
{
  GraftClassItem *self = GRAFT_CLASS_ITEM (object);

  g_free (self->name);
  g_free (self->path);
  g_strfreev (self->pictures);
  G_OBJECT_CLASS (graft_class_item_parent_class)->finalize (object);
}

static void
graft_class_item_get_property (GObject *object, guint prop_id,
                               GValue *value, GParamSpec *pspec)
{
  GraftClassItem *self = GRAFT_CLASS_ITEM (object);

  switch (prop_id)
    {
    case ITEM_PROP_NAME: g_value_set_string (value, self->name); break;
    case ITEM_PROP_PATH: g_value_set_string (value, self->path); break;
    case ITEM_PROP_COUNT: g_value_set_uint (value, self->count); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_class_item_set_property (GObject *object, guint prop_id,
                               const GValue *value, GParamSpec *pspec)
{
  GraftClassItem *self = GRAFT_CLASS_ITEM (object);

  switch (prop_id)
    {
    case ITEM_PROP_NAME:
      graft_class_item_set_name (self, g_value_get_string (value));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_class_item_class_init (GraftClassItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = graft_class_item_finalize;
  object_class->get_property = graft_class_item_get_property;
  object_class->set_property = graft_class_item_set_property;
  item_properties[ITEM_PROP_NAME]
    = g_param_spec_string ("name", NULL, NULL, NULL,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                           | G_PARAM_STATIC_STRINGS);
  item_properties[ITEM_PROP_PATH]
    = g_param_spec_string ("path", NULL, NULL, NULL, ro);
  item_properties[ITEM_PROP_COUNT]
    = g_param_spec_uint ("count", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, ITEM_N_PROPS,
                                     item_properties);
}

static void
graft_class_item_init (GraftClassItem *self)
{
}

/* An item for class @label of @scan, with its pictures' paths. */
static GraftClassItem *
class_item_new (const GraftScan *scan, guint label)
{
  const GraftClass *c = g_ptr_array_index (scan->classes, label);
  GraftClassItem *self = g_object_new (GRAFT_TYPE_CLASS_ITEM, NULL);
  g_autoptr (GStrvBuilder) pictures = g_strv_builder_new ();

  self->name = g_strdup (c->name);
  self->path = g_strdup (c->path);
  self->count = c->count;
  self->n_train = c->n_train;
  self->n_val = c->n_val;
  for (guint i = 0; i < scan->samples->len; i++)
    {
      const GraftSample *s = &g_array_index (scan->samples, GraftSample, i);
      if (s->label == label)
        g_strv_builder_add (pictures, s->path);
    }
  self->pictures = g_strv_builder_end (pictures);
  return self;
}

/* ---- GraftProject ---------------------------------------------------------- */

struct _GraftProject
{
  GObject parent_instance;

  GStrv folders;
  GraftScan *scan;
  GListStore *classes;      /* GraftClassItem */
  double val_fraction;

  GCancellable *scan_cancellable;   /* non-NULL while scanning */
  GStrv scanning_folders;
  double scan_progress;
  char *scan_status;

  GraftBackbone *backbone;
  GraftRunMode mode;
  int unfreeze;
  GraftRun *run;

  char *dir;                 /* the project's folder */
  GraftProjectFile *choices; /* only its classes are used: the user's
                              * renames and removals, by class folder */
  char *wanted_backbone;     /* the saved backbone, until one loads */
  gboolean loaded;           /* the file was read: changes are saved */
  gboolean restoring;        /* applying the file: nothing to save */
  guint save_source;
  gboolean writing, write_again;
};

G_DEFINE_FINAL_TYPE (GraftProject, graft_project, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_SCANNING,
  PROP_SCAN_PROGRESS,
  PROP_SCAN_STATUS,
  PROP_SCAN,
  PROP_VAL_FRACTION,
  PROP_BACKBONE,
  PROP_MODE,
  PROP_UNFREEZE,
  PROP_RUN,
  PROP_DIR,
  N_PROPS
};
enum { SCAN_FAILED, SAVE_FAILED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* The split's seed: fixed, so that the same folders always split the
 * same way and two runs compare on the same validation pictures. */
#define GRAFT_PROJECT_SPLIT_SEED 0
#define GRAFT_PROJECT_DEFAULT_VAL 0.2

/* How long the choices wait after a change before they are written: a
 * slider dragged writes once. */
#define SAVE_DELAY_MS 400

GraftProject *
graft_project_new (void)
{
  return g_object_new (GRAFT_TYPE_PROJECT, NULL);
}

GraftProject *
graft_project_new_for_dir (const char *dir)
{
  return g_object_new (GRAFT_TYPE_PROJECT, "dir", dir, NULL);
}

static void
notify (GraftProject *self, guint prop)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void schedule_save (GraftProject *self);

/* ---- Scanning ---------------------------------------------------------------- */

static void
set_scan_status (GraftProject *self, double progress, const char *status)
{
  self->scan_progress = progress;
  notify (self, PROP_SCAN_PROGRESS);
  if (set_str (&self->scan_status, status))
    notify (self, PROP_SCAN_STATUS);
}

static void
on_scan_progress (GraftScanPhase phase, guint done, guint total,
                  gpointer user_data)
{
  GraftProject *self = user_data;
  g_autofree char *status = NULL;

  if (self->scan_cancellable == NULL)
    return;
  if (phase == GRAFT_SCAN_WALKING)
    {
      status = g_strdup_printf (ngettext ("Looking for pictures: %u file "
                                          "found",
                                          "Looking for pictures: %u files "
                                          "found", done), done);
      set_scan_status (self, -1, status);
      return;
    }
  status = g_strdup_printf (_("Checking pictures: %u of %u"), done, total);
  set_scan_status (self, total > 0 ? (double) done / total : 1, status);
}

/* A renamed class keeps its name in the project file. */
static void
on_class_renamed (GraftClassItem *item, GParamSpec *pspec,
                  GraftProject *self)
{
  GraftClassChoice *choice = graft_project_file_class (self->choices,
                                                       item->path, TRUE);

  g_free (choice->name);
  choice->name = g_strdup (item->name);
  schedule_save (self);
}

static void
insert_class (GraftProject *self, GraftClassItem *item, guint position)
{
  g_signal_connect_object (item, "notify::name",
                           G_CALLBACK (on_class_renamed), self, 0);
  g_list_store_insert (self->classes, position, item);
}

/* The scan's classes, as the user renamed them and without those left
 * out. */
static void
fill_classes (GraftProject *self)
{
  g_list_store_remove_all (self->classes);
  if (self->scan == NULL)
    return;
  for (guint i = 0; i < self->scan->classes->len; i++)
    {
      g_autoptr (GraftClassItem) item = class_item_new (self->scan, i);
      const GraftClassChoice *choice
        = graft_project_file_class (self->choices, item->path, FALSE);

      if (choice != NULL && !choice->kept)
        continue;
      if (choice != NULL && choice->name != NULL)
        set_str (&item->name, choice->name);
      insert_class (self, item,
                    g_list_model_get_n_items (G_LIST_MODEL (self->classes)));
    }
}

static void
end_scan (GraftProject *self)
{
  g_clear_object (&self->scan_cancellable);
  g_clear_pointer (&self->scanning_folders, g_strfreev);
  set_scan_status (self, 0, NULL);
  notify (self, PROP_SCANNING);
}

/* What a scan's callback needs to know whether it is still the
 * project's scan: a cancelled one may end after a newer one started. */
typedef struct
{
  GraftProject *project;
  GCancellable *cancellable;
} ScanCall;

static void
scan_call_free (ScanCall *call)
{
  g_object_unref (call->project);
  g_object_unref (call->cancellable);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScanCall, scan_call_free)

static void
scan_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ScanCall) call = user_data;
  GraftProject *self = call->project;
  g_autoptr (GError) error = NULL;
  GraftScan *scan = graft_scan_folders_finish (result, &error);

  if (call->cancellable != self->scan_cancellable)
    {
      g_clear_pointer (&scan, graft_scan_free);
      return;
    }
  if (scan == NULL)
    {
      end_scan (self);
      g_signal_emit (self, signals[SCAN_FAILED], 0, error->message);
      return;
    }
  g_strfreev (self->folders);
  self->folders = g_steal_pointer (&self->scanning_folders);
  g_clear_pointer (&self->scan, graft_scan_free);
  self->scan = scan;
  end_scan (self);
  fill_classes (self);
  notify (self, PROP_SCAN);
  schedule_save (self);
}

static void
start_scan (GraftProject *self, GStrv folders)
{
  GraftScanOptions options;
  ScanCall *call = g_new0 (ScanCall, 1);

  graft_project_cancel_scan (self);
  graft_scan_options_init (&options);
  options.val_fraction = self->val_fraction;
  options.seed = GRAFT_PROJECT_SPLIT_SEED;
  self->scanning_folders = folders;
  self->scan_cancellable = g_cancellable_new ();
  set_scan_status (self, -1, _("Looking for pictures…"));
  notify (self, PROP_SCANNING);
  call->project = g_object_ref (self);
  call->cancellable = g_object_ref (self->scan_cancellable);
  graft_scan_folders_async ((const char *const *) folders, &options,
                            on_scan_progress, g_object_ref (self),
                            g_object_unref, self->scan_cancellable,
                            scan_done, call);
}

void
graft_project_open_folders (GraftProject *self, GFile **folders, guint n)
{
  g_autoptr (GStrvBuilder) paths = g_strv_builder_new ();

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = g_file_get_path (folders[i]);
      if (path != NULL)
        g_strv_builder_add (paths, path);
    }
  /* New data: the names and removals were the old data's. */
  g_ptr_array_set_size (self->choices->classes, 0);
  start_scan (self, g_strv_builder_end (paths));
}

void
graft_project_rescan (GraftProject *self)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  if (self->folders != NULL && self->folders[0] != NULL)
    start_scan (self, g_strdupv (self->folders));
}

void
graft_project_cancel_scan (GraftProject *self)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  /* The callback still comes, later, and keeps nothing: it is no longer
   * the project's scan. */
  if (self->scan_cancellable != NULL)
    {
      g_cancellable_cancel (self->scan_cancellable);
      end_scan (self);
    }
}

gboolean
graft_project_get_scanning (GraftProject *self)
{
  return self->scan_cancellable != NULL;
}

double
graft_project_get_scan_progress (GraftProject *self)
{
  return self->scan_progress;
}

const char *
graft_project_get_scan_status (GraftProject *self)
{
  return self->scan_status;
}

const char *const *
graft_project_get_folders (GraftProject *self)
{
  return (const char *const *) self->folders;
}

const GraftScan *
graft_project_get_scan (GraftProject *self)
{
  return self->scan;
}

GListModel *
graft_project_get_classes (GraftProject *self)
{
  return G_LIST_MODEL (self->classes);
}

void
graft_project_remove_class (GraftProject *self, guint position)
{
  g_autoptr (GraftClassItem) item = NULL;

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  item = g_list_model_get_item (G_LIST_MODEL (self->classes), position);
  if (item == NULL)
    return;
  graft_project_file_class (self->choices, item->path, TRUE)->kept = FALSE;
  g_list_store_remove (self->classes, position);
  schedule_save (self);
}

guint
graft_project_get_n_pictures (GraftProject *self)
{
  GListModel *classes = G_LIST_MODEL (self->classes);
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (classes, i);
      n += item->count;
    }
  return n;
}

double
graft_project_get_val_fraction (GraftProject *self)
{
  return self->val_fraction;
}

/* Splitting again keeps the user's names and removals: only the
 * per-class train/validation counts change. */
static void
refresh_split_counts (GraftProject *self)
{
  GListModel *classes = G_LIST_MODEL (self->classes);

  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (classes, i);
      for (guint c = 0; c < self->scan->classes->len; c++)
        {
          const GraftClass *k = g_ptr_array_index (self->scan->classes, c);
          if (g_strcmp0 (k->path, item->path) == 0)
            {
              item->n_train = k->n_train;
              item->n_val = k->n_val;
            }
        }
    }
}

void
graft_project_set_val_fraction (GraftProject *self, double fraction)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  g_return_if_fail (fraction > 0 && fraction < 1);
  if (self->val_fraction == fraction)
    return;
  self->val_fraction = fraction;
  notify (self, PROP_VAL_FRACTION);
  schedule_save (self);
  if (self->scan == NULL)
    return;
  graft_scan_set_split (self->scan, GRAFT_PROJECT_SPLIT_SEED, fraction);
  refresh_split_counts (self);
  notify (self, PROP_SCAN);
}

/* ---- Backbone, mode, runs ------------------------------------------------- */

GraftBackbone *
graft_project_get_backbone (GraftProject *self)
{
  return self->backbone;
}

void
graft_project_set_backbone (GraftProject *self, GraftBackbone *backbone)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  if (!g_set_object (&self->backbone, backbone))
    return;
  if (backbone != NULL)
    g_clear_pointer (&self->wanted_backbone, g_free);
  notify (self, PROP_BACKBONE);
  schedule_save (self);
}

GraftRunMode
graft_project_get_mode (GraftProject *self)
{
  return self->mode;
}

void
graft_project_set_mode (GraftProject *self, GraftRunMode mode)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  if (self->mode == mode)
    return;
  self->mode = mode;
  notify (self, PROP_MODE);
  schedule_save (self);
}

int
graft_project_get_unfreeze (GraftProject *self)
{
  return self->unfreeze;
}

void
graft_project_set_unfreeze (GraftProject *self, int unfreeze)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  if (self->unfreeze == unfreeze)
    return;
  self->unfreeze = unfreeze;
  notify (self, PROP_UNFREEZE);
  schedule_save (self);
}

guint
graft_project_get_first_trainable (GraftProject *self)
{
  guint n = self->backbone != NULL
    ? graft_backbone_get_n_blocks (self->backbone) : 0;

  if (self->mode != GRAFT_RUN_MODE_FINETUNE)
    return n;
  if (self->unfreeze == GRAFT_UNFREEZE_ALL || (guint) self->unfreeze >= n)
    return 0;
  return n - self->unfreeze;
}

static gboolean
check_ready (GraftProject *self, GError **error)
{
  guint n_classes = g_list_model_get_n_items (G_LIST_MODEL (self->classes));

  if (self->scan == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                         _("Add labelled picture folders on the Data page "
                           "first."));
  else if (n_classes < 2)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         _("A classifier needs at least two classes: add "
                           "another class folder."));
  else if (self->backbone == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                         _("Choose a backbone on the Backbone page first."));
  else
    return TRUE;
  return FALSE;
}

GraftRunConfig *
graft_project_make_config (GraftProject *self, GraftRunMode mode,
                           GError **error)
{
  GListModel *classes = G_LIST_MODEL (self->classes);
  guint n = g_list_model_get_n_items (classes);
  g_autoptr (GraftRunConfig) config = NULL;

  g_return_val_if_fail (GRAFT_IS_PROJECT (self), NULL);
  if (!check_ready (self, error))
    return NULL;
  config = graft_run_config_new (mode);
  g_free (config->backbone);
  config->backbone = g_strdup (graft_backbone_get_spec (self->backbone));
  g_free (config->cut);
  config->cut = g_strdup (graft_backbone_get_cut (self->backbone));
  g_strfreev (config->data);
  config->data = g_new0 (char *, n + 1);
  config->labels = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (classes, i);
      config->data[i] = g_strdup (item->path);
      config->labels[i] = g_strdup (item->name);
    }
  config->val_fraction = self->val_fraction;
  config->split_seed = GRAFT_PROJECT_SPLIT_SEED;
  if (mode == GRAFT_RUN_MODE_FINETUNE)
    config->unfreeze = self->unfreeze;
  return g_steal_pointer (&config);
}

GraftRun *
graft_project_get_run (GraftProject *self)
{
  return self->run;
}

static char *
graft_data_subdir (const char *name)
{
  return g_build_filename (g_get_user_data_dir (), "graft", name, NULL);
}

char *
graft_project_get_default_dir (void)
{
  return graft_data_subdir (NULL);
}

char *
graft_project_get_runs_dir (GraftProject *self)
{
  return g_build_filename (self->dir, "runs", NULL);
}

char *
graft_project_get_imported_dir (void)
{
  return graft_data_subdir ("backbones");
}

/* runs/2026-12-04-153012-extract, or -2, -3… when taken. */
static char *
new_run_dir (GraftProject *self, const GraftRunConfig *config,
             GError **error)
{
  g_autofree char *runs = graft_project_get_runs_dir (self);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d-%H%M%S");
  const char *mode = graft_run_mode_to_string (config->mode);

  for (guint i = 1; i < 1000; i++)
    {
      g_autofree char *name = i == 1
        ? g_strdup_printf ("%s-%s", stamp, mode)
        : g_strdup_printf ("%s-%s-%u", stamp, mode, i);
      g_autofree char *dir = g_build_filename (runs, name, NULL);

      if (g_mkdir_with_parents (runs, 0755) != 0)
        break;
      if (g_mkdir (dir, 0755) == 0)
        return g_steal_pointer (&dir);
      if (errno != EEXIST)
        break;
    }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               _("Cannot make a folder for the run in %s: %s"), runs,
               g_strerror (errno));
  return NULL;
}

GraftRun *
graft_project_start_run (GraftProject *self, const GraftRunConfig *config,
                         GError **error)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (GRAFT_IS_PROJECT (self), NULL);
  if (!graft_run_config_validate (config, error)
      || (dir = new_run_dir (self, config, error)) == NULL)
    return NULL;
  g_clear_object (&self->run);
  self->run = graft_run_new (config, dir);
  notify (self, PROP_RUN);
  graft_run_start (self->run);
  return self->run;
}

/* ---- The project on disk -------------------------------------------------------- */

const char *
graft_project_get_dir (GraftProject *self)
{
  return self->dir;
}

gboolean
graft_project_is_default (GraftProject *self)
{
  g_autofree char *dir = graft_project_get_default_dir ();

  return g_strcmp0 (self->dir, dir) == 0;
}

char *
graft_project_get_name (GraftProject *self)
{
  if (graft_project_is_default (self))
    return g_strdup (_("Default Project"));
  return g_path_get_basename (self->dir);
}

const char *
graft_project_get_backbone_spec (GraftProject *self)
{
  if (self->backbone != NULL)
    return graft_backbone_get_spec (self->backbone);
  return self->wanted_backbone;
}

/* What the file will say, copied: the worker writes it while the user
 * goes on choosing. */
static GraftProjectFile *
snapshot (GraftProject *self)
{
  GraftProjectFile *file = graft_project_file_new ();
  const char *backbone = graft_project_get_backbone_spec (self);

  g_strfreev (file->folders);
  file->folders = g_strdupv (self->folders);
  for (guint i = 0; i < self->choices->classes->len; i++)
    {
      const GraftClassChoice *c = g_ptr_array_index (self->choices->classes,
                                                     i);
      GraftClassChoice *copy = graft_project_file_class (file, c->path, TRUE);
      copy->name = g_strdup (c->name);
      copy->kept = c->kept;
    }
  file->val_fraction = self->val_fraction;
  file->backbone = g_strdup (backbone);
  file->mode = self->mode;
  file->unfreeze = self->unfreeze;
  return file;
}

static void
write_thread (GTask *task, gpointer source, gpointer data,
              GCancellable *cancellable)
{
  GraftProject *self = source;
  GError *error = NULL;

  if (graft_project_file_write (self->dir, data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void save_now (GraftProject *self);

static void
on_written (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftProject *self = GRAFT_PROJECT (source);
  g_autoptr (GError) error = NULL;

  self->writing = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autofree char *message = g_strdup_printf
        (_("The project’s choices could not be saved: %s"), error->message);
      g_signal_emit (self, signals[SAVE_FAILED], 0, message);
    }
  if (self->write_again)
    {
      self->write_again = FALSE;
      save_now (self);
    }
}

/* One write at a time, the latest choices last. */
static void
save_now (GraftProject *self)
{
  g_autoptr (GTask) task = NULL;

  if (self->writing)
    {
      self->write_again = TRUE;
      return;
    }
  self->writing = TRUE;
  task = g_task_new (self, NULL, on_written, NULL);
  g_task_set_source_tag (task, save_now);
  g_task_set_task_data (task, snapshot (self),
                        (GDestroyNotify) graft_project_file_free);
  g_task_run_in_thread (task, write_thread);
}

static gboolean
on_save_due (gpointer data)
{
  GraftProject *self = data;

  self->save_source = 0;
  save_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_save (GraftProject *self)
{
  /* Before its file is read a project has nothing to say: writing then
   * would overwrite the user's choices with defaults. */
  if (!self->loaded || self->restoring || self->save_source != 0)
    return;
  self->save_source = g_timeout_add (SAVE_DELAY_MS, on_save_due, self);
}

/* The window is closing: a change still waiting is written now, while
 * the process is sure to be there. */
static void
flush_save (GraftProject *self)
{
  g_autoptr (GraftProjectFile) file = NULL;
  g_autoptr (GError) error = NULL;

  if (self->save_source == 0)
    return;
  g_clear_handle_id (&self->save_source, g_source_remove);
  file = snapshot (self);
  if (!graft_project_file_write (self->dir, file, &error))
    g_warning ("The project’s choices could not be saved: %s",
               error->message);
}

/* ---- Opening a project ---------------------------------------------------------- */

static void
read_thread (GTask *task, gpointer source, gpointer data,
             GCancellable *cancellable)
{
  GraftProject *self = source;
  GError *error = NULL;
  GraftProjectFile *file;

  if (!graft_project_is_default (self)
      && !graft_project_file_exists (self->dir))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               g_file_test (self->dir, G_FILE_TEST_IS_DIR)
                               ? _("%s is not a Graft project")
                               : _("The project %s is not there any more"),
                               self->dir);
      return;
    }
  file = graft_project_file_read (self->dir, &error);
  if (file == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, file,
                           (GDestroyNotify) graft_project_file_free);
}

/* The saved choices become the project's: the folders are scanned again
 * and the classes come back renamed and left out as they were. */
static void
apply_file (GraftProject *self, GraftProjectFile *file)
{
  self->restoring = TRUE;
  graft_project_set_val_fraction (self, file->val_fraction);
  graft_project_set_mode (self, file->mode);
  graft_project_set_unfreeze (self, file->unfreeze);
  g_free (self->wanted_backbone);
  self->wanted_backbone = g_strdup (file->backbone);
  /* Data the user opened while the file was being read wins. */
  if (graft_project_get_scanning (self) || self->scan != NULL)
    {
      self->restoring = FALSE;
      self->loaded = TRUE;
      schedule_save (self);
      return;
    }
  g_ptr_array_set_size (self->choices->classes, 0);
  for (guint i = 0; i < file->classes->len; i++)
    {
      const GraftClassChoice *c = g_ptr_array_index (file->classes, i);
      GraftClassChoice *mine = graft_project_file_class (self->choices,
                                                         c->path, TRUE);
      mine->name = g_strdup (c->name);
      mine->kept = c->kept;
    }
  /* Kept even when the scan fails (a drive not plugged in): the next
   * save must not forget them. */
  g_strfreev (self->folders);
  self->folders = g_strdupv (file->folders);
  if (self->folders[0] != NULL)
    start_scan (self, g_strdupv (self->folders));
  self->restoring = FALSE;
  self->loaded = TRUE;
}

void
graft_project_load_async (GraftProject *self, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback,
                                       user_data);

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  g_task_set_source_tag (task, graft_project_load_async);
  g_task_run_in_thread (task, read_thread);
}

gboolean
graft_project_load_finish (GraftProject *self, GAsyncResult *result,
                           GError **error)
{
  g_autoptr (GraftProjectFile) file = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  file = g_task_propagate_pointer (G_TASK (result), error);
  if (file == NULL)
    return FALSE;
  apply_file (self, file);
  return TRUE;
}

/* ---- Save As -------------------------------------------------------------------- */

typedef struct
{
  char *from, *to;
  GraftProjectFile *file;
} CopyJob;

static void
copy_job_free (gpointer data)
{
  CopyJob *job = data;

  g_free (job->from);
  g_free (job->to);
  graft_project_file_free (job->file);
  g_free (job);
}

/* @from's files and folders into @to, which must not exist. */
static gboolean
copy_tree (GFile *from, GFile *to, GCancellable *cancellable,
           GError **error)
{
  g_autoptr (GFileEnumerator) children = NULL;

  if (!g_file_make_directory (to, cancellable, error))
    return FALSE;
  children = g_file_enumerate_children
    (from, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
     G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable, error);
  if (children == NULL)
    return FALSE;
  while (TRUE)
    {
      GFileInfo *info;
      GFile *child;
      g_autoptr (GFile) dest = NULL;

      if (!g_file_enumerator_iterate (children, &info, &child, cancellable,
                                      error))
        return FALSE;
      if (info == NULL)
        return TRUE;
      dest = g_file_get_child (to, g_file_info_get_name (info));
      switch (g_file_info_get_file_type (info))
        {
        case G_FILE_TYPE_DIRECTORY:
          if (!copy_tree (child, dest, cancellable, error))
            return FALSE;
          break;
        case G_FILE_TYPE_REGULAR:
          if (!g_file_copy (child, dest, G_FILE_COPY_NOFOLLOW_SYMLINKS,
                            cancellable, NULL, NULL, error))
            return FALSE;
          break;
        default:   /* a run folder holds nothing else */
          break;
        }
    }
}

static gboolean
dir_is_empty (GFile *dir, GCancellable *cancellable)
{
  g_autoptr (GFileEnumerator) children = g_file_enumerate_children
    (dir, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NONE,
     cancellable, NULL);
  g_autoptr (GFileInfo) info = children != NULL
    ? g_file_enumerator_next_file (children, cancellable, NULL) : NULL;

  return children != NULL && info == NULL;
}

static void
save_as_thread (GTask *task, gpointer source, gpointer data,
                GCancellable *cancellable)
{
  CopyJob *job = data;
  GError *error = NULL;
  g_autoptr (GFile) to = g_file_new_for_path (job->to);
  g_autofree char *runs_from = g_build_filename (job->from, "runs", NULL);
  g_autofree char *runs_to = g_build_filename (job->to, "runs", NULL);
  g_autoptr (GFile) from_file = g_file_new_for_path (runs_from);
  g_autoptr (GFile) to_file = g_file_new_for_path (runs_to);

  /* Into a new folder, or an empty one the file chooser made: never over
   * someone's files. */
  if (g_file_query_exists (to, cancellable) && !dir_is_empty (to, cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               _("%s is not empty: choose a new name for "
                                 "the project"), job->to);
      return;
    }
  if ((!g_file_query_exists (to, cancellable)
       && !g_file_make_directory_with_parents (to, cancellable, &error))
      || (g_file_query_exists (from_file, cancellable)
          && !copy_tree (from_file, to_file, cancellable, &error))
      || !graft_project_file_write (job->to, job->file, &error))
    {
      g_prefix_error (&error, _("The project could not be copied to %s: "),
                      job->to);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
graft_project_save_as_async (GraftProject *self, const char *dir,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback,
                                       user_data);
  CopyJob *job = g_new0 (CopyJob, 1);

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  job->from = g_strdup (self->dir);
  job->to = g_canonicalize_filename (dir, NULL);
  job->file = snapshot (self);
  g_task_set_source_tag (task, graft_project_save_as_async);
  g_task_set_task_data (task, job, copy_job_free);
  if (self->run != NULL
      && (graft_run_get_state (self->run) == GRAFT_RUN_STATE_RUNNING
          || graft_run_get_state (self->run) == GRAFT_RUN_STATE_PAUSED))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               _("Stop the run before saving the project "
                                 "elsewhere"));
      return;
    }
  g_task_run_in_thread (task, save_as_thread);
}

gboolean
graft_project_save_as_finish (GraftProject *self, GAsyncResult *result,
                              GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Resuming ------------------------------------------------------------------- */

GraftRun *
graft_project_resume_run (GraftProject *self, const char *dir,
                          GError **error)
{
  g_autoptr (GraftRun) run = NULL;

  g_return_val_if_fail (GRAFT_IS_PROJECT (self), NULL);
  if (self->run != NULL
      && (graft_run_get_state (self->run) == GRAFT_RUN_STATE_RUNNING
          || graft_run_get_state (self->run) == GRAFT_RUN_STATE_PAUSED))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           _("A run is training: stop it before resuming "
                             "another"));
      return NULL;
    }
  if (graft_run_files_in_use (dir))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           _("That run is being trained already, by "
                             "another Graft"));
      return NULL;
    }
  run = graft_run_open (dir, error);
  if (run == NULL)
    return NULL;
  g_set_object (&self->run, run);
  notify (self, PROP_RUN);
  graft_run_start (self->run);
  return self->run;
}

/* ---- GObject ------------------------------------------------------------------ */

static void
graft_project_dispose (GObject *object)
{
  GraftProject *self = GRAFT_PROJECT (object);

  if (self->scan_cancellable != NULL)
    g_cancellable_cancel (self->scan_cancellable);
  g_clear_object (&self->scan_cancellable);
  g_clear_object (&self->classes);
  g_clear_object (&self->backbone);
  /* A run still training is stopped (its last finished epoch stays in
   * its folder), and its thread is waited for: the app must not exit
   * while it still writes the run's files or frees its memory (graft-cli
   * crashed at exit that way).  It stops after the step in progress. */
  if (self->run != NULL)
    {
      graft_run_stop (self->run);
      graft_run_wait (self->run);
    }
  g_clear_object (&self->run);
  flush_save (self);
  G_OBJECT_CLASS (graft_project_parent_class)->dispose (object);
}

static void
graft_project_finalize (GObject *object)
{
  GraftProject *self = GRAFT_PROJECT (object);

  g_strfreev (self->folders);
  g_strfreev (self->scanning_folders);
  g_clear_pointer (&self->scan, graft_scan_free);
  g_free (self->scan_status);
  g_free (self->dir);
  g_free (self->wanted_backbone);
  graft_project_file_free (self->choices);
  G_OBJECT_CLASS (graft_project_parent_class)->finalize (object);
}

static void
graft_project_get_property (GObject *object, guint prop_id, GValue *value,
                            GParamSpec *pspec)
{
  GraftProject *self = GRAFT_PROJECT (object);

  switch (prop_id)
    {
    case PROP_SCANNING:
      g_value_set_boolean (value, graft_project_get_scanning (self));
      break;
    case PROP_SCAN_PROGRESS: g_value_set_double (value, self->scan_progress);
      break;
    case PROP_SCAN_STATUS: g_value_set_string (value, self->scan_status);
      break;
    case PROP_SCAN: g_value_set_pointer (value, self->scan); break;
    case PROP_VAL_FRACTION: g_value_set_double (value, self->val_fraction);
      break;
    case PROP_BACKBONE: g_value_set_object (value, self->backbone); break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_UNFREEZE: g_value_set_int (value, self->unfreeze); break;
    case PROP_RUN: g_value_set_object (value, self->run); break;
    case PROP_DIR: g_value_set_string (value, self->dir); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_project_set_property (GObject *object, guint prop_id,
                            const GValue *value, GParamSpec *pspec)
{
  GraftProject *self = GRAFT_PROJECT (object);

  switch (prop_id)
    {
    case PROP_VAL_FRACTION:
      graft_project_set_val_fraction (self, g_value_get_double (value));
      break;
    case PROP_BACKBONE:
      graft_project_set_backbone (self, g_value_get_object (value));
      break;
    case PROP_MODE: graft_project_set_mode (self, g_value_get_enum (value));
      break;
    case PROP_UNFREEZE:
      graft_project_set_unfreeze (self, g_value_get_int (value));
      break;
    case PROP_DIR:
      g_free (self->dir);
      self->dir = g_value_get_string (value) != NULL
        ? g_canonicalize_filename (g_value_get_string (value), NULL)
        : graft_project_get_default_dir ();
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
install_properties (GObjectClass *object_class)
{
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY
    | G_PARAM_STATIC_STRINGS;
  GParamFlags rw = ro | G_PARAM_WRITABLE;

  properties[PROP_SCANNING]
    = g_param_spec_boolean ("scanning", NULL, NULL, FALSE, ro);
  properties[PROP_SCAN_PROGRESS]
    = g_param_spec_double ("scan-progress", NULL, NULL, -1, 1, 0, ro);
  properties[PROP_SCAN_STATUS]
    = g_param_spec_string ("scan-status", NULL, NULL, NULL, ro);
  properties[PROP_SCAN] = g_param_spec_pointer ("scan", NULL, NULL, ro);
  properties[PROP_VAL_FRACTION]
    = g_param_spec_double ("val-fraction", NULL, NULL, 0.01, 0.99,
                           GRAFT_PROJECT_DEFAULT_VAL, rw);
  properties[PROP_BACKBONE]
    = g_param_spec_object ("backbone", NULL, NULL, GRAFT_TYPE_BACKBONE, rw);
  properties[PROP_MODE]
    = g_param_spec_enum ("mode", NULL, NULL, GRAFT_TYPE_RUN_MODE,
                         GRAFT_RUN_MODE_EXTRACT, rw);
  properties[PROP_UNFREEZE]
    = g_param_spec_int ("unfreeze", NULL, NULL, GRAFT_UNFREEZE_ALL,
                        G_MAXINT, 2, rw);
  properties[PROP_RUN]
    = g_param_spec_object ("run", NULL, NULL, GRAFT_TYPE_RUN, ro);
  properties[PROP_DIR]
    = g_param_spec_string ("dir", NULL, NULL, NULL,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                           | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
graft_project_class_init (GraftProjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = graft_project_dispose;
  object_class->finalize = graft_project_finalize;
  object_class->get_property = graft_project_get_property;
  object_class->set_property = graft_project_set_property;
  install_properties (object_class);

  signals[SCAN_FAILED] = g_signal_new ("scan-failed",
                                       G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SAVE_FAILED] = g_signal_new ("save-failed",
                                       G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
graft_project_init (GraftProject *self)
{
  self->classes = g_list_store_new (GRAFT_TYPE_CLASS_ITEM);
  self->val_fraction = GRAFT_PROJECT_DEFAULT_VAL;
  self->unfreeze = 2;
  self->folders = g_new0 (char *, 1);
  self->choices = graft_project_file_new ();
}

/* ---- Undoing a removal ------------------------------------------------------ */

void
graft_project_restore_class (GraftProject *self, GraftClassItem *item,
                             guint position)
{
  GListModel *classes = G_LIST_MODEL (self->classes);
  guint n = g_list_model_get_n_items (classes);
  int label = -1;

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  g_return_if_fail (GRAFT_IS_CLASS_ITEM (item));
  for (guint c = 0; self->scan != NULL && c < self->scan->classes->len; c++)
    {
      const GraftClass *k = g_ptr_array_index (self->scan->classes, c);
      if (g_strcmp0 (k->path, item->path) == 0)
        label = c;
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) other = g_list_model_get_item (classes, i);
      if (g_strcmp0 (other->path, item->path) == 0)
        return;
    }
  /* Built again from the current scan, which may have been redone or
   * split again while the class was out; only the user's name is kept. */
  if (label >= 0)
    {
      g_autoptr (GraftClassItem) fresh = class_item_new (self->scan, label);
      graft_class_item_set_name (fresh, item->name);
      insert_class (self, fresh, MIN (position, n));
      graft_project_file_class (self->choices, item->path, TRUE)->kept = TRUE;
      schedule_save (self);
    }
}

/* ---- Every run kept ------------------------------------------------------------ */

/* The list lives as the project's data rather than a member, made when a
 * view first asks: projects that no view compares (the other pages'
 * tests) never read the runs folder. */
#define RUNS_KEY "graft-project-runs"

char *
graft_project_get_trash_dir (GraftProject *self)
{
  return g_build_filename (self->dir, "trash", NULL);
}

/* A run that has ended, however it ended, has its last files written. */
static void
on_run_ended (GraftRun *run, GParamSpec *pspec, GraftRunList *runs)
{
  if (graft_run_get_state (run) >= GRAFT_RUN_STATE_FINISHED)
    graft_run_list_refresh (runs, graft_run_get_dir (run));
}

/* Training holds the folder's lock by now: a resumed run's row says so
 * (and offers no second Resume). */
static void
on_run_started (GraftRun *run, GraftRunList *runs)
{
  if (graft_run_list_find (runs, graft_run_get_dir (run)) != NULL)
    graft_run_list_refresh (runs, graft_run_get_dir (run));
}

static void
on_run_for_runs (GraftProject *self, GParamSpec *pspec, GraftRunList *runs)
{
  if (self->run == NULL)
    return;
  g_signal_connect_object (self->run, "notify::state",
                           G_CALLBACK (on_run_ended), runs, 0);
  g_signal_connect_object (self->run, "started",
                           G_CALLBACK (on_run_started), runs, 0);
}

GListModel *
graft_project_get_runs (GraftProject *self)
{
  GraftRunList *runs;
  g_autofree char *runs_dir = NULL, *trash_dir = NULL;

  g_return_val_if_fail (GRAFT_IS_PROJECT (self), NULL);
  runs = g_object_get_data (G_OBJECT (self), RUNS_KEY);
  if (runs != NULL)
    return G_LIST_MODEL (runs);
  runs_dir = graft_project_get_runs_dir (self);
  trash_dir = graft_project_get_trash_dir (self);
  runs = graft_run_list_new (runs_dir, trash_dir);
  g_object_set_data_full (G_OBJECT (self), RUNS_KEY, runs, g_object_unref);
  g_signal_connect_object (self, "notify::run", G_CALLBACK (on_run_for_runs),
                           runs, 0);
  on_run_for_runs (self, NULL, runs);
  return G_LIST_MODEL (runs);
}

void
graft_project_reload_runs (GraftProject *self)
{
  g_return_if_fail (GRAFT_IS_PROJECT (self));
  graft_run_list_reload (GRAFT_RUN_LIST (graft_project_get_runs (self)));
}

/* ---- A run trained elsewhere ---------------------------------------------- */

/* What the train.py of an exported PyTorch project leaves that
 * graft_run_import reads (graft-run-import.h). */
static const char *const imported_files[] = {
  "run.json", "weights.safetensors", "graft/model.onnx", "graft/head.json",
};

typedef struct
{
  char *from;       /* the folder train.py wrote */
  char *dir;        /* the new run's, under the project's runs */
} ImportJob;

static void
import_job_free (ImportJob *job)
{
  g_free (job->from);
  g_free (job->dir);
  g_free (job);
}

/* Copies @from's files into a new run folder and imports them there:
 * the folder train.py wrote is only read. */
static void
import_thread (GTask *task, gpointer source, gpointer task_data,
               GCancellable *cancellable)
{
  GraftProject *self = GRAFT_PROJECT (source);
  ImportJob *job = task_data;
  g_autoptr (GraftRunConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *graft = NULL;

  config = graft_run_import_read_config (job->from, &error);
  if (config == NULL
      || (job->dir = new_run_dir (self, config, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  graft = g_build_filename (job->dir, "graft", NULL);
  g_mkdir (graft, 0755);
  for (gsize i = 0; error == NULL && i < G_N_ELEMENTS (imported_files); i++)
    {
      g_autofree char *src = g_build_filename (job->from, imported_files[i],
                                               NULL);
      g_autofree char *dst = g_build_filename (job->dir, imported_files[i],
                                               NULL);

      graft_copy_file (src, dst, &error);
    }
  if (error == NULL)
    graft_run_import (job->dir, &error);
  if (error != NULL)
    {
      graft_remove_tree (job->dir);   /* the folder this import made */
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_strdup (job->dir), g_free);
}

void
graft_project_import_run_async (GraftProject *self, const char *folder,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  ImportJob *job;

  g_return_if_fail (GRAFT_IS_PROJECT (self));
  g_return_if_fail (folder != NULL);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, graft_project_import_run_async);
  job = g_new0 (ImportJob, 1);
  job->from = g_strdup (folder);
  g_task_set_task_data (task, job, (GDestroyNotify) import_job_free);
  g_task_run_in_thread (task, import_thread);
}

char *
graft_project_import_run_finish (GraftProject *self, GAsyncResult *result,
                                 GError **error)
{
  char *dir;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  dir = g_task_propagate_pointer (G_TASK (result), error);
  if (dir != NULL)
    graft_run_list_refresh (GRAFT_RUN_LIST (graft_project_get_runs (self)),
                            dir);
  return dir;
}
