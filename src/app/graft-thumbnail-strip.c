/* graft-thumbnail-strip.c: thumbnails decoded off the main thread.
 *
 * A strip decodes its missing pictures in one GTask (sequentially, so a
 * page of many classes holds at most one pool thread per strip), crops
 * each to a centred square in the worker, and turns the pixbufs into
 * textures on the main thread.  Whatever was decoded goes into the
 * shared cache, even when the strip was unmapped meanwhile. */
#define G_LOG_DOMAIN "graft-thumbnail-strip"

#include "graft-thumbnail-strip.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>
#include <math.h>

/* Logical pixels: a thumbnail's side and the gap between two. */
#define THUMBNAIL_SIZE 48
#define THUMBNAIL_SPACING 6
/* Past this many textures the cache starts again, so that browsing many
 * folders in one session cannot grow it without bound. */
#define CACHE_MAX_ENTRIES 2048

struct _GraftThumbnailStrip
{
  GtkWidget parent_instance;

  GPtrArray *images;          /* GtkImage, one per picture shown */
  GStrv paths;                /* the pictures, as many as images */
  GCancellable *cancellable;  /* of the load in progress, or NULL */
};

G_DEFINE_FINAL_TYPE (GraftThumbnailStrip, graft_thumbnail_strip,
                     GTK_TYPE_WIDGET)

/* ---- The shared cache (main thread only) --------------------------------- */

static GHashTable *cache;     /* "SIZE:PATH" → GdkTexture */

static char *
cache_key (const char *path, int size)
{
  return g_strdup_printf ("%d:%s", size, path);
}

static GdkTexture *
cache_lookup (const char *path, int size)
{
  g_autofree char *key = cache_key (path, size);

  return cache != NULL ? g_hash_table_lookup (cache, key) : NULL;
}

static void
cache_insert (const char *path, int size, GdkTexture *texture)
{
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   g_object_unref);
  if (g_hash_table_size (cache) >= CACHE_MAX_ENTRIES)
    g_hash_table_remove_all (cache);
  g_hash_table_insert (cache, cache_key (path, size),
                       g_object_ref (texture));
}

/* ---- Decoding (worker thread) -------------------------------------------- */

typedef struct
{
  GStrv paths;        /* the pictures to decode */
  int size;           /* device pixels */
  GPtrArray *pixbufs; /* GdkPixbuf or NULL, one per path decoded so far */
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  g_strfreev (job->paths);
  g_clear_pointer (&job->pixbufs, g_ptr_array_unref);
  g_free (job);
}

/* @path scaled so that its shorter side is @size, then cropped to the
 * centred @size × @size square; NULL when it cannot be read. */
static GdkPixbuf *
load_square (const char *path, int size)
{
  int width, height;
  double scale;
  g_autoptr (GdkPixbuf) scaled = NULL;
  g_autoptr (GdkPixbuf) oriented = NULL;
  g_autoptr (GdkPixbuf) square = NULL;

  if (gdk_pixbuf_get_file_info (path, &width, &height) == NULL
      || width <= 0 || height <= 0)
    return NULL;
  scale = (double) size / MIN (width, height);
  width = MAX (size, lround (width * scale));
  height = MAX (size, lround (height * scale));
  scaled = gdk_pixbuf_new_from_file_at_scale (path, width, height, FALSE,
                                              NULL);
  if (scaled == NULL)
    return NULL;
  oriented = gdk_pixbuf_apply_embedded_orientation (scaled);
  width = gdk_pixbuf_get_width (oriented);
  height = gdk_pixbuf_get_height (oriented);
  square = gdk_pixbuf_new_subpixbuf (oriented, (width - size) / 2,
                                     (height - size) / 2,
                                     MIN (size, width), MIN (size, height));
  /* A copy, so that the larger decoded picture is freed. */
  return gdk_pixbuf_copy (square);
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data,
             GCancellable *cancellable)
{
  LoadJob *job = task_data;

  job->pixbufs = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; job->paths[i] != NULL; i++)
    {
      if (g_cancellable_is_cancelled (cancellable))
        break;
      g_ptr_array_add (job->pixbufs, load_square (job->paths[i], job->size));
    }
  g_task_return_boolean (task, TRUE);
}

/* ---- The strip ----------------------------------------------------------- */

static int
device_size (GraftThumbnailStrip *self)
{
  return THUMBNAIL_SIZE * gtk_widget_get_scale_factor (GTK_WIDGET (self));
}

/* Gives every thumbnail still empty its texture when the cache has it. */
static void
apply_cached (GraftThumbnailStrip *self)
{
  int size = device_size (self);

  for (guint i = 0; i < self->images->len; i++)
    {
      GtkImage *image = g_ptr_array_index (self->images, i);
      GdkTexture *texture = cache_lookup (self->paths[i], size);

      if (texture != NULL
          && gtk_image_get_storage_type (image) == GTK_IMAGE_EMPTY)
        gtk_image_set_from_paintable (image, GDK_PAINTABLE (texture));
    }
}

static void
load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftThumbnailStrip *self = GRAFT_THUMBNAIL_STRIP (source);
  GCancellable *cancellable = user_data;
  LoadJob *job = g_task_get_task_data (G_TASK (result));

  for (guint i = 0; job->pixbufs != NULL && i < job->pixbufs->len; i++)
    {
      GdkPixbuf *pixbuf = g_ptr_array_index (job->pixbufs, i);
      g_autoptr (GdkTexture) texture = NULL;

      if (pixbuf == NULL)
        continue;
      texture = gdk_texture_new_for_pixbuf (pixbuf);
      cache_insert (job->paths[i], job->size, texture);
    }
  /* A strip unmapped or given other pictures meanwhile keeps only the
   * cache entries. */
  if (cancellable == self->cancellable)
    {
      g_clear_object (&self->cancellable);
      apply_cached (self);
    }
  g_object_unref (cancellable);
}

static void
start_loading (GraftThumbnailStrip *self)
{
  int size = device_size (self);
  g_autoptr (GStrvBuilder) missing = g_strv_builder_new ();
  g_autoptr (GTask) task = NULL;
  LoadJob *job;

  apply_cached (self);
  if (self->cancellable != NULL)
    return;
  for (guint i = 0; i < self->images->len; i++)
    if (cache_lookup (self->paths[i], size) == NULL)
      g_strv_builder_add (missing, self->paths[i]);
  job = g_new0 (LoadJob, 1);
  job->paths = g_strv_builder_end (missing);
  job->size = size;
  if (job->paths[0] == NULL)
    {
      load_job_free (job);
      return;
    }
  self->cancellable = g_cancellable_new ();
  task = g_task_new (self, self->cancellable, load_done,
                     g_object_ref (self->cancellable));
  g_task_set_source_tag (task, start_loading);
  /* The callback wants what was decoded before a cancellation too. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, job, (GDestroyNotify) load_job_free);
  g_task_run_in_thread (task, load_thread);
}

static void
stop_loading (GraftThumbnailStrip *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

static void
clear_images (GraftThumbnailStrip *self)
{
  for (guint i = 0; i < self->images->len; i++)
    gtk_widget_unparent (g_ptr_array_index (self->images, i));
  g_ptr_array_set_size (self->images, 0);
  g_clear_pointer (&self->paths, g_strfreev);
}

static GtkWidget *
new_thumbnail (GraftThumbnailStrip *self, const char *path)
{
  GtkWidget *image = gtk_image_new ();
  g_autofree char *name = g_path_get_basename (path);

  gtk_image_set_pixel_size (GTK_IMAGE (image), THUMBNAIL_SIZE);
  gtk_widget_set_size_request (image, THUMBNAIL_SIZE, THUMBNAIL_SIZE);
  gtk_widget_set_overflow (image, GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (image, "graft-data-page-thumbnail");
  gtk_widget_set_tooltip_text (image, name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (image),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  gtk_widget_set_parent (image, GTK_WIDGET (self));
  return image;
}

void
graft_thumbnail_strip_set_pictures (GraftThumbnailStrip *self,
                                    const char *const *paths)
{
  guint n = paths != NULL ? g_strv_length ((char **) paths) : 0;

  g_return_if_fail (GRAFT_IS_THUMBNAIL_STRIP (self));
  stop_loading (self);
  clear_images (self);
  n = MIN (n, GRAFT_THUMBNAIL_STRIP_MAX);
  self->paths = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      self->paths[i] = g_strdup (paths[i]);
      g_ptr_array_add (self->images, new_thumbnail (self, paths[i]));
    }
  gtk_widget_queue_resize (GTK_WIDGET (self));
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    start_loading (self);
}

guint
graft_thumbnail_strip_get_n_loaded (GraftThumbnailStrip *self)
{
  guint n = 0;

  g_return_val_if_fail (GRAFT_IS_THUMBNAIL_STRIP (self), 0);
  for (guint i = 0; i < self->images->len; i++)
    if (gtk_image_get_storage_type (g_ptr_array_index (self->images, i))
        != GTK_IMAGE_EMPTY)
      n++;
  return n;
}

GtkWidget *
graft_thumbnail_strip_new (void)
{
  return g_object_new (GRAFT_TYPE_THUMBNAIL_STRIP, NULL);
}

/* ---- GtkWidget ----------------------------------------------------------- */

/* Wide enough for one thumbnail at least, for all of them naturally. */
static void
graft_thumbnail_strip_measure (GtkWidget *widget,
                               GtkOrientation orientation, int for_size,
                               int *minimum, int *natural,
                               int *minimum_baseline, int *natural_baseline)
{
  GraftThumbnailStrip *self = GRAFT_THUMBNAIL_STRIP (widget);
  int n = self->images->len;

  if (n == 0)
    *minimum = *natural = 0;
  else if (orientation == GTK_ORIENTATION_VERTICAL)
    *minimum = *natural = THUMBNAIL_SIZE;
  else
    {
      *minimum = THUMBNAIL_SIZE;
      *natural = n * THUMBNAIL_SIZE + (n - 1) * THUMBNAIL_SPACING;
    }
}

static void
graft_thumbnail_strip_size_allocate (GtkWidget *widget, int width,
                                     int height, int baseline)
{
  GraftThumbnailStrip *self = GRAFT_THUMBNAIL_STRIP (widget);
  guint fits = (width + THUMBNAIL_SPACING)
    / (THUMBNAIL_SIZE + THUMBNAIL_SPACING);

  for (guint i = 0; i < self->images->len; i++)
    {
      GtkWidget *image = g_ptr_array_index (self->images, i);
      GtkAllocation box = { i * (THUMBNAIL_SIZE + THUMBNAIL_SPACING),
                            (height - THUMBNAIL_SIZE) / 2,
                            THUMBNAIL_SIZE, THUMBNAIL_SIZE };

      gtk_widget_set_child_visible (image, i < fits);
      if (i < fits)
        gtk_widget_size_allocate (image, &box, -1);
    }
}

static void
graft_thumbnail_strip_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (graft_thumbnail_strip_parent_class)->map (widget);
  start_loading (GRAFT_THUMBNAIL_STRIP (widget));
}

static void
graft_thumbnail_strip_unmap (GtkWidget *widget)
{
  stop_loading (GRAFT_THUMBNAIL_STRIP (widget));
  GTK_WIDGET_CLASS (graft_thumbnail_strip_parent_class)->unmap (widget);
}

static void
graft_thumbnail_strip_dispose (GObject *object)
{
  GraftThumbnailStrip *self = GRAFT_THUMBNAIL_STRIP (object);

  stop_loading (self);
  clear_images (self);
  G_OBJECT_CLASS (graft_thumbnail_strip_parent_class)->dispose (object);
}

static void
graft_thumbnail_strip_finalize (GObject *object)
{
  GraftThumbnailStrip *self = GRAFT_THUMBNAIL_STRIP (object);

  g_ptr_array_unref (self->images);
  G_OBJECT_CLASS (graft_thumbnail_strip_parent_class)->finalize (object);
}

static void
graft_thumbnail_strip_class_init (GraftThumbnailStripClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_thumbnail_strip_dispose;
  object_class->finalize = graft_thumbnail_strip_finalize;
  widget_class->measure = graft_thumbnail_strip_measure;
  widget_class->size_allocate = graft_thumbnail_strip_size_allocate;
  widget_class->map = graft_thumbnail_strip_map;
  widget_class->unmap = graft_thumbnail_strip_unmap;
  gtk_widget_class_set_css_name (widget_class, "thumbnailstrip");
  gtk_widget_class_set_accessible_role (widget_class,
                                        GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
graft_thumbnail_strip_init (GraftThumbnailStrip *self)
{
  self->images = g_ptr_array_new ();
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("First pictures"), -1);
}
