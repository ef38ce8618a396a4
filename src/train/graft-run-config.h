/* graft-run-config.h: everything that decides what a training run does.
 *
 * A plain struct, filled with a mode's defaults by graft_run_config_new ()
 * and changed field by field (or from command-line strings); checked by
 * graft_run_config_validate () before a run starts.  It travels as the
 * "config" object of run.json: every field under its own name, enums as
 * their nicks ("extract"); loading refuses what is wrong and takes the
 * mode's default for a key that is missing, so older files still load.
 * A path (or any string) that is not valid UTF-8 is written as its
 * display form with its exact bytes, base64, under "KEY_bytes" beside it
 * (a list: one entry per string, null where valid), so that it reads
 * back to the same bytes.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define GRAFT_RUN_CONFIG_ERROR (graft_run_config_error_quark ())

typedef enum
{
  GRAFT_RUN_CONFIG_ERROR_INVALID,   /* a value out of its range */
  GRAFT_RUN_CONFIG_ERROR_PARSE,     /* text or JSON of the wrong form */
} GraftRunConfigError;

GQuark graft_run_config_error_quark (void);

typedef enum
{
  GRAFT_RUN_MODE_EXTRACT,       /* "extract": backbone frozen, head learns */
  GRAFT_RUN_MODE_FINETUNE,      /* "finetune": the last blocks learn too */
  GRAFT_RUN_MODE_PROGRESSIVE,   /* "progressive": one more block per stage */
} GraftRunMode;

typedef enum
{
  GRAFT_HEAD_OUTPUT_SOFTMAX,    /* "softmax": one output per class */
  GRAFT_HEAD_OUTPUT_SIGMOID,    /* "sigmoid": one output, two classes */
} GraftHeadOutput;

typedef enum
{
  GRAFT_OPTIMIZER_ADAM,         /* "adam" */
  GRAFT_OPTIMIZER_SGD,          /* "sgd", with momentum */
} GraftOptimizer;

typedef enum
{
  GRAFT_SCHEDULE_CONSTANT,      /* "constant" */
  GRAFT_SCHEDULE_COSINE,        /* "cosine": decays over the run */
  GRAFT_SCHEDULE_STEP,          /* "step": × step_gamma every step_epochs */
} GraftSchedule;

GType graft_run_mode_get_type (void);
GType graft_head_output_get_type (void);
GType graft_optimizer_get_type (void);
GType graft_schedule_get_type (void);
#define GRAFT_TYPE_RUN_MODE (graft_run_mode_get_type ())
#define GRAFT_TYPE_HEAD_OUTPUT (graft_head_output_get_type ())
#define GRAFT_TYPE_OPTIMIZER (graft_optimizer_get_type ())
#define GRAFT_TYPE_SCHEDULE (graft_schedule_get_type ())

#define GRAFT_UNFREEZE_ALL (-1)
/* Seeds stay below 2^53 so that any JSON reader keeps them exact. */
#define GRAFT_MAX_SEED ((G_GUINT64_CONSTANT (1) << 53) - 1)

/* Ranges are those graft_run_config_validate () enforces. */
typedef struct
{
  char *backbone;          /* ONNX path or bundled id; required */
  char *cut;               /* tensor to cut at; NULL = the bottleneck */
  char **data;             /* class folders; at least one */
  char **labels;           /* NULL, or one class name per data folder (each
                            * folder then one class): set by the app */
  double val_fraction;     /* (0, 1), 0.2 */
  guint64 split_seed;      /* [0, GRAFT_MAX_SEED], 0 */
  guint64 seed;            /* [0, GRAFT_MAX_SEED], 0: init, shuffles, dropout */

  GraftRunMode mode;
  int unfreeze;            /* finetune: last N blocks, GRAFT_UNFREEZE_ALL */
  guint hidden;            /* [0, 65536]: 0 = no hidden layer, else ReLU */
  double dropout;          /* [0, 1), 0.2 */
  GraftHeadOutput output;  /* sigmoid needs two classes */

  GraftOptimizer optimizer;
  double lr;               /* (0, 10], 0.001 in every mode */
  double momentum;         /* [0, 1), 0.9; SGD only */
  double weight_decay;     /* [0, 1], 0 */
  GraftSchedule schedule;
  guint warmup_epochs;     /* [0, 1000], 0 */
  guint step_epochs;       /* [1, 10000], 3; step schedule */
  double step_gamma;       /* (0, 1], 0.1; step schedule */
  double label_smoothing;  /* [0, 1), 0 */

  guint epochs;            /* [1, 10000]: 10 extract, 5 finetune;
                            * progressive: a cap on all stages, 0 = none */
  guint batch;             /* [1, 4096], 32 */
  gboolean augment_flip;   /* horizontal flip */
  gboolean augment_crop;   /* random crop */
  guint patience;          /* [0, 10000] epochs; 0 = no early stopping */
  gboolean bn_frozen_all;  /* every BatchNorm in inference mode */
  double discriminative;   /* (0, 1], 1 = off: per-block lr factor from
                            * the head backwards */

  guint stage_epochs;      /* progressive, [1, 1000], 2 */
  double plateau_tolerance;/* progressive, [0, 1), 0.01: the relative fall
                            * of validation loss a stage must reach */
  guint plateau_patience;  /* progressive, [1, 1000], 1: stages below the
                            * tolerance before stopping */
  guint threads;           /* [0, 1024]; 0 = every core */
} GraftRunConfig;

GType graft_run_config_get_type (void);
#define GRAFT_TYPE_RUN_CONFIG (graft_run_config_get_type ())

GraftRunConfig *graft_run_config_new   (GraftRunMode mode);
GraftRunConfig *graft_run_config_copy  (const GraftRunConfig *config);
void            graft_run_config_free  (GraftRunConfig *config);
gboolean        graft_run_config_equal (const GraftRunConfig *a,
                                        const GraftRunConfig *b);

/* FALSE with a one-line GRAFT_RUN_CONFIG_ERROR_INVALID that starts with
 * the field's name and gives its allowed range. */
gboolean graft_run_config_validate (const GraftRunConfig *config,
                                    GError **error);
/* What can only be checked once the data is scanned: at least two
 * classes, and exactly two for a sigmoid output. */
gboolean graft_run_config_check_classes (const GraftRunConfig *config,
                                         guint n_classes, GError **error);

JsonNode       *graft_run_config_to_json   (const GraftRunConfig *config);
GraftRunConfig *graft_run_config_from_json (JsonNode *node, GError **error);

/* Sets the field named @key ("lr", "batch", "mode", ...; '-' may stand
 * for '_') from text as a command line gives it, checked against the
 * field's range; "augment" takes none|flip|crop|flip,crop and "unfreeze"
 * takes N|all.  Setting "mode" changes no other field. */
gboolean graft_run_config_set_option (GraftRunConfig *config,
                                      const char *key, const char *value,
                                      GError **error);

/* The nick of an enum value ("finetune"), or NULL for none. */
const char *graft_run_mode_to_string (GraftRunMode mode);
gboolean    graft_run_mode_from_string (const char *text, GraftRunMode *mode,
                                        GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunConfig, graft_run_config_free)

G_END_DECLS
