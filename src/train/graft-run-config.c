/* graft-run-config.c: a training run's configuration, its checks and its
 * JSON form.  One table lists every field with its JSON key, type and
 * range; validation, JSON in and out, equality and command-line strings
 * all walk it, so a new field is one line there (and one in the struct). */
#define G_LOG_DOMAIN "graft-run-config"

#include "graft-run-config.h"

#include <string.h>

G_DEFINE_QUARK (graft-run-config-error-quark, graft_run_config_error)

G_DEFINE_ENUM_TYPE (GraftRunMode, graft_run_mode,
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_MODE_EXTRACT, "extract"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_MODE_FINETUNE, "finetune"),
  G_DEFINE_ENUM_VALUE (GRAFT_RUN_MODE_PROGRESSIVE, "progressive"))

G_DEFINE_ENUM_TYPE (GraftHeadOutput, graft_head_output,
  G_DEFINE_ENUM_VALUE (GRAFT_HEAD_OUTPUT_SOFTMAX, "softmax"),
  G_DEFINE_ENUM_VALUE (GRAFT_HEAD_OUTPUT_SIGMOID, "sigmoid"))

G_DEFINE_ENUM_TYPE (GraftOptimizer, graft_optimizer,
  G_DEFINE_ENUM_VALUE (GRAFT_OPTIMIZER_ADAM, "adam"),
  G_DEFINE_ENUM_VALUE (GRAFT_OPTIMIZER_SGD, "sgd"))

G_DEFINE_ENUM_TYPE (GraftSchedule, graft_schedule,
  G_DEFINE_ENUM_VALUE (GRAFT_SCHEDULE_CONSTANT, "constant"),
  G_DEFINE_ENUM_VALUE (GRAFT_SCHEDULE_COSINE, "cosine"),
  G_DEFINE_ENUM_VALUE (GRAFT_SCHEDULE_STEP, "step"))

G_DEFINE_BOXED_TYPE (GraftRunConfig, graft_run_config,
                     graft_run_config_copy, graft_run_config_free)

/* The table reads enum fields as int. */
G_STATIC_ASSERT (sizeof (GraftRunMode) == sizeof (int));
G_STATIC_ASSERT (sizeof (GraftHeadOutput) == sizeof (int));
G_STATIC_ASSERT (sizeof (GraftOptimizer) == sizeof (int));
G_STATIC_ASSERT (sizeof (GraftSchedule) == sizeof (int));

#define DEFAULT_EPOCHS_EXTRACT 30
#define DEFAULT_LR_EXTRACT 0.01
#define DEFAULT_EPOCHS_FINETUNE 5
#define DEFAULT_EPOCHS_PROGRESSIVE 0    /* no cap: stages decide */

typedef enum
{
  KIND_STRING,
  KIND_STRV,
  KIND_BOOLEAN,
  KIND_ENUM,
  KIND_INT,
  KIND_UINT,
  KIND_UINT64,
  KIND_DOUBLE,
} Kind;

enum
{
  MIN_OPEN = 1 << 0,    /* the minimum itself is out of range */
  MAX_OPEN = 1 << 1,    /* the maximum itself is out of range */
  NULLABLE = 1 << 2,    /* a string or list that may be NULL */
};

typedef struct
{
  const char *key;
  Kind kind;
  gsize offset;
  double min, max;
  guint flags;
  GType (*enum_type) (void);
} Field;

#define FIELD(name, kind, min, max, flags) \
  { #name, kind, G_STRUCT_OFFSET (GraftRunConfig, name), min, max, flags, \
    NULL }
#define ENUM_FIELD(name, get_type) \
  { #name, KIND_ENUM, G_STRUCT_OFFSET (GraftRunConfig, name), 0, 0, 0, \
    get_type }

/* In the order of the struct, which is also the order in run.json. */
static const Field fields[] = {
  FIELD (backbone, KIND_STRING, 0, 0, 0),
  FIELD (cut, KIND_STRING, 0, 0, NULLABLE),
  FIELD (data, KIND_STRV, 0, 0, 0),
  FIELD (labels, KIND_STRV, 0, 0, NULLABLE),
  FIELD (val_fraction, KIND_DOUBLE, 0, 1, MIN_OPEN | MAX_OPEN),
  FIELD (split_seed, KIND_UINT64, 0, GRAFT_MAX_SEED, 0),
  FIELD (seed, KIND_UINT64, 0, GRAFT_MAX_SEED, 0),
  ENUM_FIELD (mode, graft_run_mode_get_type),
  FIELD (unfreeze, KIND_INT, GRAFT_UNFREEZE_ALL, 10000, 0),
  FIELD (hidden, KIND_UINT, 0, 65536, 0),
  FIELD (dropout, KIND_DOUBLE, 0, 1, MAX_OPEN),
  ENUM_FIELD (output, graft_head_output_get_type),
  ENUM_FIELD (optimizer, graft_optimizer_get_type),
  FIELD (lr, KIND_DOUBLE, 0, 10, MIN_OPEN),
  FIELD (momentum, KIND_DOUBLE, 0, 1, MAX_OPEN),
  FIELD (weight_decay, KIND_DOUBLE, 0, 1, 0),
  ENUM_FIELD (schedule, graft_schedule_get_type),
  FIELD (warmup_epochs, KIND_UINT, 0, 1000, 0),
  FIELD (step_epochs, KIND_UINT, 1, 10000, 0),
  FIELD (step_gamma, KIND_DOUBLE, 0, 1, MIN_OPEN),
  FIELD (label_smoothing, KIND_DOUBLE, 0, 1, MAX_OPEN),
  FIELD (epochs, KIND_UINT, 0, 10000, 0),
  FIELD (batch, KIND_UINT, 1, 4096, 0),
  FIELD (augment_flip, KIND_BOOLEAN, 0, 0, 0),
  FIELD (augment_crop, KIND_BOOLEAN, 0, 0, 0),
  FIELD (patience, KIND_UINT, 0, 10000, 0),
  FIELD (bn_frozen_all, KIND_BOOLEAN, 0, 0, 0),
  FIELD (discriminative, KIND_DOUBLE, 0, 1, MIN_OPEN),
  FIELD (stage_epochs, KIND_UINT, 1, 1000, 0),
  FIELD (plateau_tolerance, KIND_DOUBLE, 0, 1, MAX_OPEN),
  FIELD (plateau_patience, KIND_UINT, 1, 1000, 0),
  FIELD (threads, KIND_UINT, 0, 1024, 0),
};

#define MEMBER(type, config, field) \
  G_STRUCT_MEMBER (type, (gpointer) (config), (field)->offset)

static gboolean fail (GError **error, GraftRunConfigError code,
                      const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, GraftRunConfigError code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (GRAFT_RUN_CONFIG_ERROR,
                                                (int) code, format, args));
  va_end (args);
  return FALSE;
}

static const Field *
find_field (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (strcmp (fields[i].key, key) == 0)
      return &fields[i];
  return NULL;
}

/* ---- Construction ---- */

static guint
default_epochs (GraftRunMode mode)
{
  switch (mode)
    {
    case GRAFT_RUN_MODE_FINETUNE:
      return DEFAULT_EPOCHS_FINETUNE;
    case GRAFT_RUN_MODE_PROGRESSIVE:
      return DEFAULT_EPOCHS_PROGRESSIVE;
    case GRAFT_RUN_MODE_EXTRACT:
    default:
      return DEFAULT_EPOCHS_EXTRACT;
    }
}

GraftRunConfig *
graft_run_config_new (GraftRunMode mode)
{
  GraftRunConfig *config = g_new0 (GraftRunConfig, 1);

  config->val_fraction = 0.2;
  config->mode = mode;
  config->unfreeze = mode == GRAFT_RUN_MODE_FINETUNE ? GRAFT_UNFREEZE_ALL : 0;
  config->dropout = 0.2;
  config->output = GRAFT_HEAD_OUTPUT_SOFTMAX;
  config->optimizer = GRAFT_OPTIMIZER_ADAM;
  /* Only the head learns in feature extraction, from fixed vectors: a
   * larger step and more epochs (each costs milliseconds after the first)
   * reach a good head where fine-tuning's 0.001 barely moves it. */
  config->lr = mode == GRAFT_RUN_MODE_EXTRACT ? DEFAULT_LR_EXTRACT : 0.001;
  config->momentum = 0.9;
  config->schedule = GRAFT_SCHEDULE_CONSTANT;
  config->step_epochs = 3;
  config->step_gamma = 0.1;
  config->epochs = default_epochs (mode);
  config->batch = 32;
  config->discriminative = 1.0;
  config->stage_epochs = 2;
  config->plateau_tolerance = 0.01;
  config->plateau_patience = 1;
  return config;
}

GraftRunConfig *
graft_run_config_copy (const GraftRunConfig *config)
{
  GraftRunConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);

  copy = g_memdup2 (config, sizeof *config);
  copy->backbone = g_strdup (config->backbone);
  copy->cut = g_strdup (config->cut);
  copy->data = g_strdupv (config->data);
  copy->labels = g_strdupv (config->labels);
  return copy;
}

void
graft_run_config_free (GraftRunConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->backbone);
  g_free (config->cut);
  g_strfreev (config->data);
  g_strfreev (config->labels);
  g_free (config);
}

static double
get_number (const GraftRunConfig *config, const Field *f)
{
  switch (f->kind)
    {
    case KIND_INT:
    case KIND_ENUM:
      return MEMBER (int, config, f);
    case KIND_UINT:
      return MEMBER (guint, config, f);
    case KIND_UINT64:
      return (double) MEMBER (guint64, config, f);
    case KIND_DOUBLE:
      return MEMBER (double, config, f);
    case KIND_BOOLEAN:
      return MEMBER (gboolean, config, f) != FALSE;
    case KIND_STRING:
    case KIND_STRV:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
strv_equal (char **a, char **b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal ((const char *const *) a, (const char *const *) b);
}

gboolean
graft_run_config_equal (const GraftRunConfig *a, const GraftRunConfig *b)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const Field *f = &fields[i];
      gboolean same;

      if (f->kind == KIND_STRING)
        same = g_strcmp0 (MEMBER (char *, a, f), MEMBER (char *, b, f)) == 0;
      else if (f->kind == KIND_STRV)
        same = strv_equal (MEMBER (char **, a, f), MEMBER (char **, b, f));
      else
        same = get_number (a, f) == get_number (b, f);
      if (!same)
        return FALSE;
    }
  return TRUE;
}

/* ---- Validation ---- */

static gboolean
in_range (const Field *f, double value)
{
  gboolean above = f->flags & MIN_OPEN ? value > f->min : value >= f->min;
  gboolean below = f->flags & MAX_OPEN ? value < f->max : value <= f->max;

  return above && below;     /* both FALSE for NaN */
}

static char *
format_number (const Field *f, double value)
{
  return g_strdup_printf (f->kind == KIND_DOUBLE ? "%g" : "%.0f", value);
}

/* "between 1 and 4096", "greater than 0 and at most 10" */
static char *
describe_range (const Field *f)
{
  g_autofree char *min = format_number (f, f->min);
  g_autofree char *max = format_number (f, f->max);

  if ((f->flags & (MIN_OPEN | MAX_OPEN)) == 0)
    return g_strdup_printf ("between %s and %s", min, max);
  return g_strdup_printf ("%s %s and %s %s",
                          f->flags & MIN_OPEN ? "greater than" : "at least",
                          min, f->flags & MAX_OPEN ? "less than" : "at most",
                          max);
}

static gboolean
check_number (const Field *f, double value, GError **error)
{
  g_autofree char *range = NULL, *got = NULL;

  if (in_range (f, value))
    return TRUE;
  range = describe_range (f);
  got = format_number (f, value);
  return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
               "%s: must be %s (got %s)", f->key, range, got);
}

static gboolean
check_enum (const Field *f, int value, GError **error)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (f->enum_type ());

  if (g_enum_get_value (klass, value) != NULL)
    return TRUE;
  return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
               "%s: no such value (%d)", f->key, value);
}

static gboolean
check_field (const GraftRunConfig *config, const Field *f, GError **error)
{
  const char *text;
  char **list;

  switch (f->kind)
    {
    case KIND_STRING:
      text = MEMBER (char *, config, f);
      if ((text == NULL && !(f->flags & NULLABLE))
          || (text != NULL && text[0] == '\0'))
        return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                     "%s: must not be empty", f->key);
      return TRUE;
    case KIND_STRV:
      list = MEMBER (char **, config, f);
      if (f->flags & NULLABLE)
        return TRUE;   /* labels: check_labels () */
      if (list == NULL || list[0] == NULL
          || g_strv_contains ((const char *const *) list, ""))
        return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                     "%s: must list at least one folder, none empty",
                     f->key);
      return TRUE;
    case KIND_BOOLEAN:
      return TRUE;
    case KIND_ENUM:
      return check_enum (f, MEMBER (int, config, f), error);
    case KIND_INT:
    case KIND_UINT:
    case KIND_UINT64:
    case KIND_DOUBLE:
    default:
      return check_number (f, get_number (config, f), error);
    }
}

/* What depends on the mode. */
static gboolean
check_mode (const GraftRunConfig *config, GError **error)
{
  const char *mode = graft_run_mode_to_string (config->mode);

  if (config->epochs == 0 && config->mode != GRAFT_RUN_MODE_PROGRESSIVE)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                 "epochs: must be between 1 and 10000 in %s mode (got 0)",
                 mode);
  if (config->unfreeze == 0 && config->mode == GRAFT_RUN_MODE_FINETUNE)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                 "unfreeze: must be at least 1, or -1 for all, in %s mode "
                 "(got 0)", mode);
  return TRUE;
}

/* The app's class names: one per data folder, each a distinct name a
 * person can read (they end up in head.json and model.onnx). */
static gboolean
check_labels (const GraftRunConfig *config, GError **error)
{
  char **labels = config->labels;
  guint n = labels != NULL ? g_strv_length (labels) : 0;

  if (labels == NULL)
    return TRUE;
  if (n != g_strv_length (config->data))
    return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                 "labels: must give one name per data folder (%u folders, "
                 "%u given)", g_strv_length (config->data), n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup (labels[i]);
      if (!g_utf8_validate (labels[i], -1, NULL))
        return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                     "labels: name %u is not valid UTF-8", i + 1);
      if (g_strstrip (name)[0] == '\0')
        return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                     "labels: name %u is empty", i + 1);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (labels[i], labels[j]))
          return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                       "labels: '%s' is given twice", labels[i]);
    }
  return TRUE;
}

gboolean
graft_run_config_validate (const GraftRunConfig *config, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (!check_field (config, &fields[i], error))
      return FALSE;
  return check_labels (config, error) && check_mode (config, error);
}

gboolean
graft_run_config_check_classes (const GraftRunConfig *config,
                                guint n_classes, GError **error)
{
  if (n_classes < 2)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                 "classes: at least two are needed (got %u)", n_classes);
  if (config->output == GRAFT_HEAD_OUTPUT_SIGMOID && n_classes != 2)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_INVALID,
                 "output: sigmoid needs exactly two classes (got %u); "
                 "use softmax", n_classes);
  return TRUE;
}

/* ---- Setting fields ---- */

static void
set_number (GraftRunConfig *config, const Field *f, double value)
{
  switch (f->kind)
    {
    case KIND_INT:
    case KIND_ENUM:
      MEMBER (int, config, f) = (int) value;
      break;
    case KIND_UINT:
      MEMBER (guint, config, f) = (guint) value;
      break;
    case KIND_UINT64:
      MEMBER (guint64, config, f) = (guint64) value;
      break;
    case KIND_DOUBLE:
      MEMBER (double, config, f) = value;
      break;
    case KIND_BOOLEAN:
    case KIND_STRING:
    case KIND_STRV:
    default:
      g_assert_not_reached ();
    }
}

/* Numbers are checked before they are stored: a negative count never
 * wraps round into a huge unsigned one. */
static gboolean
set_checked (GraftRunConfig *config, const Field *f, double value,
             GError **error)
{
  if (!check_number (f, value, error))
    return FALSE;
  set_number (config, f, value);
  return TRUE;
}

/* "extract, finetune, progressive" */
static char *
list_nicks (GEnumClass *klass)
{
  GString *nicks = g_string_new (NULL);

  for (guint i = 0; i < klass->n_values; i++)
    g_string_append_printf (nicks, "%s%s", i > 0 ? ", " : "",
                            klass->values[i].value_nick);
  return g_string_free (nicks, FALSE);
}

static gboolean
enum_from_nick (const Field *f, const char *nick, int *value,
                GError **error)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (f->enum_type ());
  GEnumValue *found = g_enum_get_value_by_nick (klass, nick);
  g_autofree char *nicks = NULL;

  if (found != NULL)
    {
      *value = found->value;
      return TRUE;
    }
  nicks = list_nicks (klass);
  return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
               "%s: unknown value '%s' (expected one of %s)",
               f->key, nick, nicks);
}

static gboolean
set_enum (GraftRunConfig *config, const Field *f, const char *nick,
          GError **error)
{
  return enum_from_nick (f, nick, &MEMBER (int, config, f), error);
}

/* Nicks are static strings: they outlive the class reference. */
static const char *
enum_to_nick (GType type, int value)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *found = g_enum_get_value (klass, value);

  return found != NULL ? found->value_nick : NULL;
}

static void
set_string (GraftRunConfig *config, const Field *f, const char *text)
{
  char **slot = &MEMBER (char *, config, f);

  g_free (*slot);
  *slot = g_strdup (text);
}

/* ---- JSON ---- */

/* Paths are the file system's bytes, which need not be UTF-8, while JSON
 * text must be.  A string that is not valid UTF-8 is written as its
 * display form (U+FFFD for each invalid byte), and its bytes, in base64,
 * go under "KEY_bytes" beside it (for a list: an array with null for each
 * valid string), from which reading restores them exactly. */
#define BYTES_SUFFIX "_bytes"

static gboolean
is_utf8 (const char *text)
{
  return text == NULL || g_utf8_validate (text, -1, NULL);
}

static void
add_text (JsonBuilder *b, const char *text)
{
  g_autofree char *valid = is_utf8 (text) ? NULL : g_utf8_make_valid (text,
                                                                      -1);

  json_builder_add_string_value (b, valid != NULL ? valid : text);
}

static void
add_bytes (JsonBuilder *b, const char *text)
{
  g_autofree char *encoded = NULL;

  if (is_utf8 (text))
    {
      json_builder_add_null_value (b);
      return;
    }
  encoded = g_base64_encode ((const guchar *) text, strlen (text));
  json_builder_add_string_value (b, encoded);
}

/* "KEY_bytes" for a string field that holds other bytes than UTF-8. */
static void
add_raw_bytes (JsonBuilder *b, const GraftRunConfig *config, const Field *f)
{
  g_autofree char *key = g_strconcat (f->key, BYTES_SUFFIX, NULL);
  char **list;
  gboolean all_valid = TRUE;

  if (f->kind == KIND_STRING)
    {
      if (is_utf8 (MEMBER (char *, config, f)))
        return;
      json_builder_set_member_name (b, key);
      add_bytes (b, MEMBER (char *, config, f));
      return;
    }
  list = MEMBER (char **, config, f);
  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    all_valid = all_valid && is_utf8 (list[i]);
  if (all_valid)
    return;
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; list[i] != NULL; i++)
    add_bytes (b, list[i]);
  json_builder_end_array (b);
}

static void
add_value (JsonBuilder *b, const GraftRunConfig *config, const Field *f)
{
  char **list;

  switch (f->kind)
    {
    case KIND_STRING:
      if (MEMBER (char *, config, f) == NULL)
        json_builder_add_null_value (b);
      else
        add_text (b, MEMBER (char *, config, f));
      break;
    case KIND_STRV:
      list = MEMBER (char **, config, f);
      if (list == NULL && f->flags & NULLABLE)
        {
          json_builder_add_null_value (b);
          break;
        }
      json_builder_begin_array (b);
      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        add_text (b, list[i]);
      json_builder_end_array (b);
      break;
    case KIND_BOOLEAN:
      json_builder_add_boolean_value (b, MEMBER (gboolean, config, f));
      break;
    case KIND_ENUM:
      json_builder_add_string_value (b, enum_to_nick (f->enum_type (),
                                                     MEMBER (int, config, f)));
      break;
    case KIND_DOUBLE:
      json_builder_add_double_value (b, MEMBER (double, config, f));
      break;
    case KIND_INT:
    case KIND_UINT:
    case KIND_UINT64:
    default:
      json_builder_add_int_value (b, (gint64) get_number (config, f));
      break;
    }
}

JsonNode *
graft_run_config_to_json (const GraftRunConfig *config)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (config != NULL, NULL);

  json_builder_begin_object (b);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      json_builder_set_member_name (b, fields[i].key);
      add_value (b, config, &fields[i]);
      if (fields[i].kind == KIND_STRING || fields[i].kind == KIND_STRV)
        add_raw_bytes (b, config, &fields[i]);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
holds (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node)
    && json_node_get_value_type (node) == type;
}

static gboolean
read_strv (GraftRunConfig *config, const Field *f, JsonNode *node,
           GError **error)
{
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (node)
    ? json_node_get_array (node) : NULL;
  guint n = array != NULL ? json_array_get_length (array) : 0;
  g_auto (GStrv) list = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!holds (element, G_TYPE_STRING))
        break;
      list[i] = g_strdup (json_node_get_string (element));
    }
  if (array == NULL || g_strv_length (list) != n)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                 "%s: expected an array of strings", f->key);
  g_strfreev (MEMBER (char **, config, f));
  MEMBER (char **, config, f) = g_steal_pointer (&list);
  return TRUE;
}

static gboolean
read_member (GraftRunConfig *config, const Field *f, JsonNode *node,
             GError **error)
{
  GraftRunConfigError parse = GRAFT_RUN_CONFIG_ERROR_PARSE;

  switch (f->kind)
    {
    case KIND_STRING:
      if (!holds (node, G_TYPE_STRING)
          && !(JSON_NODE_HOLDS_NULL (node) && f->flags & NULLABLE))
        return fail (error, parse, "%s: expected a string", f->key);
      set_string (config, f, JSON_NODE_HOLDS_NULL (node)
                  ? NULL : json_node_get_string (node));
      return TRUE;
    case KIND_STRV:
      if (JSON_NODE_HOLDS_NULL (node) && f->flags & NULLABLE)
        {
          g_clear_pointer (&MEMBER (char **, config, f), g_strfreev);
          return TRUE;
        }
      return read_strv (config, f, node, error);
    case KIND_BOOLEAN:
      if (!holds (node, G_TYPE_BOOLEAN))
        return fail (error, parse, "%s: expected true or false", f->key);
      MEMBER (gboolean, config, f) = json_node_get_boolean (node);
      return TRUE;
    case KIND_ENUM:
      if (!holds (node, G_TYPE_STRING))
        return fail (error, parse, "%s: expected a string", f->key);
      return set_enum (config, f, json_node_get_string (node), error);
    case KIND_DOUBLE:
      if (!holds (node, G_TYPE_DOUBLE) && !holds (node, G_TYPE_INT64))
        return fail (error, parse, "%s: expected a number", f->key);
      return set_checked (config, f, json_node_get_double (node), error);
    case KIND_INT:
    case KIND_UINT:
    case KIND_UINT64:
    default:
      if (!holds (node, G_TYPE_INT64))
        return fail (error, parse, "%s: expected an integer", f->key);
      return set_checked (config, f, (double) json_node_get_int (node),
                          error);
    }
}

/* One string's bytes from base64: not empty and without a NUL. */
static char *
decode_bytes (const char *key, const char *encoded, GError **error)
{
  gsize length = 0;
  g_autofree guchar *bytes = g_base64_decode (encoded, &length);

  if (length == 0 || memchr (bytes, '\0', length) != NULL)
    {
      fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
            "%s" BYTES_SUFFIX ": not the base64 of a path", key);
      return NULL;
    }
  return g_strndup ((const char *) bytes, length);
}

/* Restores the bytes "KEY_bytes" holds over @f's strings. */
static gboolean
read_raw_bytes (GraftRunConfig *config, const Field *f, JsonNode *node,
                GError **error)
{
  char **list = f->kind == KIND_STRV ? MEMBER (char **, config, f) : NULL;
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (node)
    ? json_node_get_array (node) : NULL;

  if (f->kind == KIND_STRING)
    {
      char *text;
      if (!holds (node, G_TYPE_STRING))
        return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                     "%s" BYTES_SUFFIX ": expected a string", f->key);
      if ((text = decode_bytes (f->key, json_node_get_string (node),
                                error)) == NULL)
        return FALSE;
      g_free (MEMBER (char *, config, f));
      MEMBER (char *, config, f) = text;
      return TRUE;
    }
  if (list == NULL || array == NULL
      || json_array_get_length (array) != g_strv_length (list))
    return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                 "%s" BYTES_SUFFIX ": expected one entry per %s", f->key,
                 f->key);
  for (guint i = 0; list[i] != NULL; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      char *text;
      if (JSON_NODE_HOLDS_NULL (element))
        continue;
      if (!holds (element, G_TYPE_STRING))
        return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                     "%s" BYTES_SUFFIX ": expected strings or null", f->key);
      if ((text = decode_bytes (f->key, json_node_get_string (element),
                                error)) == NULL)
        return FALSE;
      g_free (list[i]);
      list[i] = text;
    }
  return TRUE;
}

static gboolean
read_field (GraftRunConfig *config, const Field *f, JsonObject *object,
            GError **error)
{
  JsonNode *member = json_object_get_member (object, f->key);
  g_autofree char *bytes_key = g_strconcat (f->key, BYTES_SUFFIX, NULL);
  JsonNode *bytes = json_object_get_member (object, bytes_key);

  if (member != NULL && !read_member (config, f, member, error))
    return FALSE;
  if (bytes == NULL || JSON_NODE_HOLDS_NULL (bytes)
      || (f->kind != KIND_STRING && f->kind != KIND_STRV))
    return TRUE;
  return read_raw_bytes (config, f, bytes, error);
}

/* The mode first: the defaults of the keys that are missing depend on it. */
static GraftRunConfig *
config_for_mode (JsonObject *object, GError **error)
{
  JsonNode *node = json_object_get_member (object, "mode");
  g_autoptr (GraftRunConfig) config =
    graft_run_config_new (GRAFT_RUN_MODE_EXTRACT);
  GraftRunMode mode;

  if (node != NULL && !read_member (config, find_field ("mode"), node, error))
    return NULL;
  mode = config->mode;
  return graft_run_config_new (mode);
}

GraftRunConfig *
graft_run_config_from_json (JsonNode *node, GError **error)
{
  g_autoptr (GraftRunConfig) config = NULL;
  JsonObject *object;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
            "config: expected a JSON object");
      return NULL;
    }
  object = json_node_get_object (node);
  config = config_for_mode (object, error);
  if (config == NULL)
    return NULL;
  /* Keys this version does not know (from a newer Graft) are ignored. */
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (!read_field (config, &fields[i], object, error))
      return NULL;
  if (!graft_run_config_validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* ---- Command-line strings ---- */

static gboolean
parse_augment (GraftRunConfig *config, const char *text, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  gboolean flip = FALSE, crop = FALSE, ok = parts[0] != NULL;

  if (strcmp (text, "none") == 0)
    {
      config->augment_flip = config->augment_crop = FALSE;
      return TRUE;
    }
  for (guint i = 0; ok && parts[i] != NULL; i++)
    {
      const char *part = g_strstrip (parts[i]);

      if (strcmp (part, "flip") == 0 && !flip)
        flip = TRUE;
      else if (strcmp (part, "crop") == 0 && !crop)
        crop = TRUE;
      else
        ok = FALSE;
    }
  if (!ok)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                 "augment: expected none, flip, crop or flip,crop (got '%s')",
                 text);
  config->augment_flip = flip;
  config->augment_crop = crop;
  return TRUE;
}

static gboolean
parse_boolean (const char *text, gboolean *value)
{
  static const char *const yes[] = { "true", "yes", "on", "1", NULL };
  static const char *const no[] = { "false", "no", "off", "0", NULL };

  if (g_strv_contains (yes, text))
    *value = TRUE;
  else if (g_strv_contains (no, text))
    *value = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_number (const Field *f, const char *text, double *value)
{
  gint64 integer;
  char *end = NULL;

  if (f->kind != KIND_DOUBLE)
    {
      if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64,
                                     &integer, NULL))
        return FALSE;
      *value = (double) integer;
      return TRUE;
    }
  *value = g_ascii_strtod (text, &end);
  return end != text && *end == '\0' && !g_ascii_isspace (text[0]);
}

/* Repeated options add up: --data A --data B. */
static void
append_string (char ***list, const char *text)
{
  guint n = *list != NULL ? g_strv_length (*list) : 0;

  *list = g_renew (char *, *list, n + 2);
  (*list)[n] = g_strdup (text);
  (*list)[n + 1] = NULL;
}

static gboolean
parse_unfreeze (GraftRunConfig *config, const char *text, GError **error)
{
  double value = GRAFT_UNFREEZE_ALL;

  if (strcmp (text, "all") != 0
      && !parse_number (find_field ("unfreeze"), text, &value))
    return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                 "unfreeze: expected N or all (got '%s')", text);
  return set_checked (config, find_field ("unfreeze"), value, error);
}

static gboolean
set_from_text (GraftRunConfig *config, const Field *f, const char *text,
               GError **error)
{
  GraftRunConfigError parse = GRAFT_RUN_CONFIG_ERROR_PARSE;
  gboolean flag;
  double value;

  switch (f->kind)
    {
    case KIND_STRING:
      set_string (config, f, text);
      return TRUE;
    case KIND_STRV:
      append_string (&MEMBER (char **, config, f), text);
      return TRUE;
    case KIND_BOOLEAN:
      if (!parse_boolean (text, &flag))
        return fail (error, parse, "%s: expected true or false (got '%s')",
                     f->key, text);
      MEMBER (gboolean, config, f) = flag;
      return TRUE;
    case KIND_ENUM:
      return set_enum (config, f, text, error);
    case KIND_INT:
    case KIND_UINT:
    case KIND_UINT64:
    case KIND_DOUBLE:
    default:
      if (!parse_number (f, text, &value))
        return fail (error, parse, "%s: expected %s (got '%s')", f->key,
                     f->kind == KIND_DOUBLE ? "a number" : "an integer",
                     text);
      return set_checked (config, f, value, error);
    }
}

gboolean
graft_run_config_set_option (GraftRunConfig *config, const char *key,
                             const char *value, GError **error)
{
  g_autofree char *name = NULL;
  const Field *f;

  g_return_val_if_fail (config != NULL && key != NULL && value != NULL,
                        FALSE);

  name = g_strdelimit (g_strdup (key), "-", '_');
  f = find_field (name);
  if (strcmp (name, "augment") == 0)
    return parse_augment (config, value, error);
  if (strcmp (name, "unfreeze") == 0)
    return parse_unfreeze (config, value, error);
  if (f == NULL)
    return fail (error, GRAFT_RUN_CONFIG_ERROR_PARSE,
                 "%s: no such option", key);
  return set_from_text (config, f, value, error);
}

const char *
graft_run_mode_to_string (GraftRunMode mode)
{
  return enum_to_nick (GRAFT_TYPE_RUN_MODE, (int) mode);
}

gboolean
graft_run_mode_from_string (const char *text, GraftRunMode *mode,
                            GError **error)
{
  int value;

  g_return_val_if_fail (text != NULL && mode != NULL, FALSE);

  if (!enum_from_nick (find_field ("mode"), text, &value, error))
    return FALSE;
  *mode = (GraftRunMode) value;
  return TRUE;
}
