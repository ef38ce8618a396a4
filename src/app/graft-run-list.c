/* graft-run-list.c: the runs folder as a list model.
 *
 * Jobs queue on the main thread and run one at a time on a GTask
 * worker; each job's result is applied on the main thread before the
 * next starts.  One queue (rather than a task per request) keeps a
 * delete, its undo and a reload in the order the user asked for them. */
#define G_LOG_DOMAIN "graft-run-list"

#include "graft-run-list.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "graft-run-files.h"

typedef enum
{
  JOB_EMPTY_TRASH,
  JOB_LOAD_ALL,
  JOB_LOAD_ONE,
  JOB_TRASH,
  JOB_UNTRASH,
  JOB_PURGE,
} JobKind;

typedef struct
{
  JobKind kind;
  char *dir;                /* the runs folder (LOAD_ALL) or a run's */
  char *trash;              /* the trash folder, or a run's place in it */
  GraftRunRecord *record;   /* the run moved (TRASH, UNTRASH) */
  GPtrArray *loaded;        /* GraftRunRecord, read by the worker */
} Job;

struct _GraftRunList
{
  GObject parent_instance;

  char *runs_dir, *trash_dir;
  GPtrArray *items;          /* GraftRunRecord, newest first */
  GHashTable *trashed;       /* GraftRunRecord → its folder in the trash */
  GQueue jobs;               /* Job, waiting */
  gboolean busy;
  guint n_loads;             /* LOAD_ALL jobs queued or running */
};

static void graft_run_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GraftRunList, graft_run_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE
                               (G_TYPE_LIST_MODEL, graft_run_list_model_init))

enum { PROP_0, PROP_LOADING, N_PROPS };
enum { FAILED, N_SIGNALS };
static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
job_free (Job *job)
{
  g_free (job->dir);
  g_free (job->trash);
  g_clear_object (&job->record);
  g_clear_pointer (&job->loaded, g_ptr_array_unref);
  g_free (job);
}

/* ---- GListModel ------------------------------------------------------------ */

static GType
model_get_item_type (GListModel *model)
{
  return GRAFT_TYPE_RUN_RECORD;
}

static guint
model_get_n_items (GListModel *model)
{
  return GRAFT_RUN_LIST (model)->items->len;
}

static gpointer
model_get_item (GListModel *model, guint position)
{
  GraftRunList *self = GRAFT_RUN_LIST (model);

  return position < self->items->len
    ? g_object_ref (self->items->pdata[position]) : NULL;
}

static void
graft_run_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = model_get_item_type;
  iface->get_n_items = model_get_n_items;
  iface->get_item = model_get_item;
}

/* Newest first; the folder's name breaks ties. */
static int
compare_records (gconstpointer a, gconstpointer b)
{
  GraftRunRecord *ra = *(GraftRunRecord **) a, *rb = *(GraftRunRecord **) b;
  int by_date = g_date_time_compare (graft_run_record_get_date (rb),
                                     graft_run_record_get_date (ra));

  return by_date != 0 ? by_date
    : g_strcmp0 (graft_run_record_get_dir (rb), graft_run_record_get_dir (ra));
}

static int
find_index (GraftRunList *self, const char *dir)
{
  for (guint i = 0; i < self->items->len; i++)
    if (g_strcmp0 (graft_run_record_get_dir (self->items->pdata[i]), dir) == 0)
      return i;
  return -1;
}

GraftRunRecord *
graft_run_list_find (GraftRunList *self, const char *dir)
{
  int i = find_index (self, dir);

  return i >= 0 ? self->items->pdata[i] : NULL;
}

static void
remove_record (GraftRunList *self, const char *dir)
{
  int i = find_index (self, dir);

  if (i < 0)
    return;
  g_ptr_array_remove_index (self->items, i);
  g_list_model_items_changed (G_LIST_MODEL (self), i, 1, 0);
}

/* Puts @record in its place, replacing an older record of its folder. */
static void
insert_record (GraftRunList *self, GraftRunRecord *record)
{
  guint i = 0;

  remove_record (self, graft_run_record_get_dir (record));
  while (i < self->items->len
         && compare_records (&self->items->pdata[i], &record) < 0)
    i++;
  g_ptr_array_insert (self->items, i, g_object_ref (record));
  g_list_model_items_changed (G_LIST_MODEL (self), i, 0, 1);
}

static void
replace_all (GraftRunList *self, GPtrArray *records)
{
  guint removed = self->items->len;

  g_ptr_array_sort (records, compare_records);
  g_ptr_array_set_size (self->items, 0);
  for (guint i = 0; i < records->len; i++)
    g_ptr_array_add (self->items, g_object_ref (records->pdata[i]));
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed,
                              self->items->len);
}

/* ---- The worker's side ------------------------------------------------------- */

/* rm -r, never following a link out of the tree. */
static gboolean
delete_tree (GFile *file, GError **error)
{
  g_autoptr (GFileEnumerator) children = g_file_enumerate_children
    (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
     G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;
  GFile *child;

  while (children != NULL
         && g_file_enumerator_iterate (children, &info, &child, NULL, error)
         && info != NULL)
    {
      gboolean ok = g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY
        ? delete_tree (child, error) : g_file_delete (child, NULL, error);
      if (!ok)
        return FALSE;
    }
  return g_file_delete (file, NULL, error);
}

static gboolean
empty_folder (const char *path, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child_path = g_build_filename (path, name, NULL);
      g_autoptr (GFile) child = g_file_new_for_path (child_path);
      if (!delete_tree (child, error))
        return FALSE;
    }
  return TRUE;
}

static GPtrArray *
load_all (const char *runs_dir)
{
  GPtrArray *records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GDir) dir = g_dir_open (runs_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (runs_dir, name, NULL);
      g_autofree char *json = g_build_filename (path, GRAFT_RUN_JSON, NULL);
      g_autoptr (GError) error = NULL;
      GraftRunRecord *record;

      if (!g_file_test (json, G_FILE_TEST_IS_REGULAR))
        continue;
      if ((record = graft_run_record_load (path, &error)) != NULL)
        g_ptr_array_add (records, record);
      else
        g_message ("Skipping the run in %s: %s", path, error->message);
    }
  return records;
}

static gboolean
move (const char *from, const char *to, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (to);

  if (g_mkdir_with_parents (parent, 0755) == 0 && g_rename (from, to) == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               _("Cannot move %s to %s: %s"), from, to, g_strerror (errno));
  return FALSE;
}

static gboolean
run_job (Job *job, GError **error)
{
  g_autoptr (GFile) file = NULL;
  GraftRunRecord *record;

  switch (job->kind)
    {
    case JOB_EMPTY_TRASH: return empty_folder (job->trash, error);
    case JOB_LOAD_ALL: job->loaded = load_all (job->dir); return TRUE;
    case JOB_LOAD_ONE:
      job->loaded = g_ptr_array_new_with_free_func (g_object_unref);
      if ((record = graft_run_record_load (job->dir, error)) == NULL)
        return FALSE;
      g_ptr_array_add (job->loaded, record);
      return TRUE;
    case JOB_TRASH: return move (job->dir, job->trash, error);
    case JOB_UNTRASH: return move (job->trash, job->dir, error);
    case JOB_PURGE:
    default:
      file = g_file_new_for_path (job->trash);
      return delete_tree (file, error);
    }
}

static void
job_thread (GTask *task, gpointer source, gpointer task_data,
            GCancellable *cancellable)
{
  GError *error = NULL;

  if (run_job (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* ---- The main thread's side ----------------------------------------------------- */

static void next_job (GraftRunList *self);

static void
job_failed (GraftRunList *self, Job *job, const GError *error)
{
  switch (job->kind)
    {
    case JOB_TRASH:
      g_hash_table_remove (self->trashed, job->record);
      insert_record (self, job->record);
      g_signal_emit (self, signals[FAILED], 0, error->message);
      break;
    case JOB_UNTRASH:
      g_signal_emit (self, signals[FAILED], 0, error->message);
      break;
    case JOB_LOAD_ONE:
    case JOB_EMPTY_TRASH:
    case JOB_PURGE:
    case JOB_LOAD_ALL:
    default:
      g_message ("%s", error->message);
      break;
    }
}

static void
job_succeeded (GraftRunList *self, Job *job)
{
  switch (job->kind)
    {
    case JOB_LOAD_ALL: replace_all (self, job->loaded); break;
    case JOB_LOAD_ONE: insert_record (self, job->loaded->pdata[0]); break;
    case JOB_UNTRASH: insert_record (self, job->record); break;
    case JOB_EMPTY_TRASH:
    case JOB_TRASH:
    case JOB_PURGE:
    default:
      break;
    }
}

static void
job_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftRunList *self = GRAFT_RUN_LIST (source);
  Job *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    job_succeeded (self, job);
  else
    job_failed (self, job, error);
  self->busy = FALSE;
  if (job->kind == JOB_LOAD_ALL && --self->n_loads == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
  next_job (self);
}

static void
next_job (GraftRunList *self)
{
  g_autoptr (GTask) task = NULL;
  Job *job;

  if (self->busy || (job = g_queue_pop_head (&self->jobs)) == NULL)
    return;
  self->busy = TRUE;
  task = g_task_new (self, NULL, job_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, job_thread);
}

static void
queue_job (GraftRunList *self, JobKind kind, const char *dir,
           const char *trash, GraftRunRecord *record)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->dir = g_strdup (dir);
  job->trash = g_strdup (trash);
  job->record = record != NULL ? g_object_ref (record) : NULL;
  if (kind == JOB_LOAD_ALL && self->n_loads++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
  g_queue_push_tail (&self->jobs, job);
  next_job (self);
}

/* ---- API ------------------------------------------------------------------------- */

void
graft_run_list_reload (GraftRunList *self)
{
  g_return_if_fail (GRAFT_IS_RUN_LIST (self));
  queue_job (self, JOB_LOAD_ALL, self->runs_dir, NULL, NULL);
}

void
graft_run_list_refresh (GraftRunList *self, const char *dir)
{
  g_return_if_fail (GRAFT_IS_RUN_LIST (self));
  queue_job (self, JOB_LOAD_ONE, dir, NULL, NULL);
}

gboolean
graft_run_list_get_loading (GraftRunList *self)
{
  return self->n_loads > 0;
}

void
graft_run_list_trash (GraftRunList *self, GraftRunRecord *record)
{
  const char *dir = graft_run_record_get_dir (record);
  g_autofree char *base = g_path_get_basename (dir);
  /* Unique without asking the disk: the same run deleted, undone and
   * deleted again must not meet its first copy. */
  g_autofree char *name = g_strdup_printf ("%s-%" G_GINT64_FORMAT, base,
                                           g_get_real_time ());
  char *trash = g_build_filename (self->trash_dir, name, NULL);

  g_return_if_fail (GRAFT_IS_RUN_LIST (self));
  g_hash_table_replace (self->trashed, g_object_ref (record), trash);
  remove_record (self, dir);
  queue_job (self, JOB_TRASH, dir, trash, record);
}

void
graft_run_list_untrash (GraftRunList *self, GraftRunRecord *record)
{
  const char *trash = g_hash_table_lookup (self->trashed, record);

  g_return_if_fail (GRAFT_IS_RUN_LIST (self));
  if (trash == NULL)
    return;
  queue_job (self, JOB_UNTRASH, graft_run_record_get_dir (record), trash,
             record);
  g_hash_table_remove (self->trashed, record);
}

void
graft_run_list_purge (GraftRunList *self, GraftRunRecord *record)
{
  const char *trash = g_hash_table_lookup (self->trashed, record);

  g_return_if_fail (GRAFT_IS_RUN_LIST (self));
  if (trash == NULL)
    return;
  queue_job (self, JOB_PURGE, NULL, trash, NULL);
  g_hash_table_remove (self->trashed, record);
}

/* ---- GObject ------------------------------------------------------------------------- */

GraftRunList *
graft_run_list_new (const char *runs_dir, const char *trash_dir)
{
  GraftRunList *self = g_object_new (GRAFT_TYPE_RUN_LIST, NULL);

  self->runs_dir = g_strdup (runs_dir);
  self->trash_dir = g_strdup (trash_dir);
  queue_job (self, JOB_EMPTY_TRASH, NULL, trash_dir, NULL);
  graft_run_list_reload (self);
  return self;
}

static void
graft_run_list_finalize (GObject *object)
{
  GraftRunList *self = GRAFT_RUN_LIST (object);

  /* Every job holds a reference: none is left when this runs. */
  g_queue_clear_full (&self->jobs, (GDestroyNotify) job_free);
  g_ptr_array_unref (self->items);
  g_hash_table_unref (self->trashed);
  g_free (self->runs_dir);
  g_free (self->trash_dir);
  G_OBJECT_CLASS (graft_run_list_parent_class)->finalize (object);
}

static void
graft_run_list_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_LOADING:
      g_value_set_boolean (value,
                           graft_run_list_get_loading (GRAFT_RUN_LIST (object)));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_run_list_class_init (GraftRunListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = graft_run_list_finalize;
  object_class->get_property = graft_run_list_get_property;
  properties[PROP_LOADING]
    = g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY
                            | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
graft_run_list_init (GraftRunList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->trashed = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                         g_object_unref, g_free);
  g_queue_init (&self->jobs);
}
