/* graft-project-file.c: graft-project.json, parsed leniently and written
 * atomically. */
#define G_LOG_DOMAIN "graft-project"

#include "graft-project-file.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "graft-json.h"

#define FORMAT "graft-project"
#define VERSION 1

static void
class_choice_free (gpointer data)
{
  GraftClassChoice *choice = data;

  g_free (choice->path);
  g_free (choice->name);
  g_free (choice);
}

GraftProjectFile *
graft_project_file_new (void)
{
  GraftProjectFile *file = g_new0 (GraftProjectFile, 1);

  file->folders = g_new0 (char *, 1);
  file->classes = g_ptr_array_new_with_free_func (class_choice_free);
  file->val_fraction = 0.2;
  file->mode = GRAFT_RUN_MODE_EXTRACT;
  file->unfreeze = 2;
  return file;
}

void
graft_project_file_free (GraftProjectFile *file)
{
  if (file == NULL)
    return;
  g_strfreev (file->folders);
  g_ptr_array_unref (file->classes);
  g_free (file->backbone);
  g_free (file);
}

GraftClassChoice *
graft_project_file_class (GraftProjectFile *file, const char *path,
                          gboolean add)
{
  GraftClassChoice *choice;

  for (guint i = 0; i < file->classes->len; i++)
    {
      choice = g_ptr_array_index (file->classes, i);
      if (g_strcmp0 (choice->path, path) == 0)
        return choice;
    }
  if (!add)
    return NULL;
  choice = g_new0 (GraftClassChoice, 1);
  choice->path = g_strdup (path);
  choice->kept = TRUE;
  g_ptr_array_add (file->classes, choice);
  return choice;
}

/* ---- Reading ------------------------------------------------------------------ */

static const char *
get_string (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
get_number (JsonObject *o, const char *member, double *value)
{
  JsonNode *node = json_object_get_member (o, member);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

static JsonArray *
get_array (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node)
    ? json_node_get_array (node) : NULL;
}

static void
read_folders (GraftProjectFile *file, JsonArray *folders)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; folders != NULL && i < json_array_get_length (folders);
       i++)
    {
      JsonNode *node = json_array_get_element (folders, i);
      if (JSON_NODE_HOLDS_VALUE (node)
          && json_node_get_value_type (node) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (node));
    }
  g_strfreev (file->folders);
  file->folders = g_strv_builder_end (builder);
}

static void
read_classes (GraftProjectFile *file, JsonArray *classes)
{
  for (guint i = 0; classes != NULL && i < json_array_get_length (classes);
       i++)
    {
      JsonNode *node = json_array_get_element (classes, i);
      JsonObject *o;
      GraftClassChoice *choice;
      const char *path, *name;
      JsonNode *kept;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      o = json_node_get_object (node);
      if ((path = get_string (o, "path")) == NULL)
        continue;
      choice = graft_project_file_class (file, path, TRUE);
      name = get_string (o, "name");
      g_free (choice->name);
      choice->name = name != NULL && *name != '\0' ? g_strdup (name) : NULL;
      kept = json_object_get_member (o, "kept");
      choice->kept = kept == NULL || !JSON_NODE_HOLDS_VALUE (kept)
        || json_node_get_value_type (kept) != G_TYPE_BOOLEAN
        || json_node_get_boolean (kept);
    }
}

GraftProjectFile *
graft_project_file_parse (const char *text, gsize length, const char *path,
                          GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GraftProjectFile) file = NULL;
  JsonNode *root;
  JsonObject *o;
  const char *format, *mode;
  double number;

  if (!json_parser_load_from_data (parser, text, (gssize) length, &local))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a Graft project file: %s"), path,
                   local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)
      || (format = get_string (json_node_get_object (root), "format")) == NULL
      || !g_str_equal (format, FORMAT))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a Graft project file"), path);
      return NULL;
    }
  o = json_node_get_object (root);
  if (get_number (o, "version", &number) && number > VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("%s was written by a newer Graft (version %g of the "
                     "format; this Graft reads %d)"), path, number, VERSION);
      return NULL;
    }
  file = graft_project_file_new ();
  read_folders (file, get_array (o, "folders"));
  read_classes (file, get_array (o, "classes"));
  if (get_number (o, "val_fraction", &number) && number > 0 && number < 1)
    file->val_fraction = number;
  file->backbone = g_strdup (get_string (o, "backbone"));
  if ((mode = get_string (o, "mode")) != NULL)
    graft_run_mode_from_string (mode, &file->mode, NULL);
  if (get_number (o, "unfreeze", &number) && number >= -1
      && number <= G_MAXINT)
    file->unfreeze = (int) number;
  return g_steal_pointer (&file);
}

/* ---- Writing ------------------------------------------------------------------ */

char *
graft_project_file_to_text (const GraftProjectFile *file)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, VERSION);
  json_builder_set_member_name (b, "folders");
  json_builder_begin_array (b);
  for (guint i = 0; file->folders[i] != NULL; i++)
    json_builder_add_string_value (b, file->folders[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < file->classes->len; i++)
    {
      const GraftClassChoice *choice = g_ptr_array_index (file->classes, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, choice->path);
      if (choice->name != NULL)
        {
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, choice->name);
        }
      json_builder_set_member_name (b, "kept");
      json_builder_add_boolean_value (b, choice->kept);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "val_fraction");
  json_builder_add_double_value (b, file->val_fraction);
  if (file->backbone != NULL)
    {
      json_builder_set_member_name (b, "backbone");
      json_builder_add_string_value (b, file->backbone);
    }
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, graft_run_mode_to_string (file->mode));
  json_builder_set_member_name (b, "unfreeze");
  json_builder_add_int_value (b, file->unfreeze);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = graft_json_to_text (root, TRUE);
  return g_strconcat (text, "\n", NULL);
}

static char *
file_path (const char *dir)
{
  return g_build_filename (dir, GRAFT_PROJECT_FILE, NULL);
}

gboolean
graft_project_file_exists (const char *dir)
{
  g_autofree char *path = file_path (dir);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

GraftProjectFile *
graft_project_file_read (const char *dir, GError **error)
{
  g_autofree char *path = file_path (dir);
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return graft_project_file_new ();
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return graft_project_file_parse (text, length, path, error);
}

gboolean
graft_project_file_write (const char *dir, const GraftProjectFile *file,
                          GError **error)
{
  g_autofree char *path = file_path (dir);
  g_autofree char *text = graft_project_file_to_text (file);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot make the project folder %s: %s"), dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* A temporary file renamed over the old one: a crash leaves the old
   * file or the new one, never half of either. */
  return g_file_set_contents_full (path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                   error);
}

gboolean
graft_project_file_create (const char *dir, GError **error)
{
  g_autoptr (GDir) listing = NULL;
  g_autoptr (GraftProjectFile) fresh = NULL;

  if (graft_project_file_exists (dir))
    return TRUE;
  listing = g_dir_open (dir, 0, NULL);
  if (listing != NULL && g_dir_read_name (listing) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("%s already holds other files: a new project needs a "
                     "folder of its own"), dir);
      return FALSE;
    }
  fresh = graft_project_file_new ();
  return graft_project_file_write (dir, fresh, error);
}
