/* fuzz-model.c: graft.labels, the class names an exported model carries,
 * as `graft-cli predict --model` and the app's Try page read them.
 *
 * The bytes become the graft.labels metadata of a small real model
 * (written as `graft-cli export` writes a model's metadata), which is
 * loaded as a backbone from its file and asked for its labels: either a
 * one-line refusal, or one valid UTF-8 name per output (two for a
 * single sigmoid output).  An ONNX value is a C string: the text ends at
 * the first NUL byte, as the importer's does.  The model's own bytes are
 * fuzz-onnx's job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "gf-onnx.h"
#include "graft-backbone-private.h"

static GraftBackbone *base;
static char *model_path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  fuzz_init_environment ();
  base = graft_backbone_load (FUZZ_MODEL, NULL, &error);
  if (base == NULL)
    {
      fprintf (stderr, "fuzz-model: %s\n", error->message);
      abort ();
    }
  model_path = g_build_filename (fuzz_scratch_dir (), "labels.onnx", NULL);
  return 0;
}

/* @base with graft.labels @labels, at model_path. */
static void
write_model (const char *labels)
{
  GfModel *m = graft_backbone_get_model (base);
  GfMetadataEntry entry = { (char *) "graft.labels", (char *) labels };
  GfOnnxExport what = { m->input, m->output, m->name, &entry, 1 };
  GfError gf_error = { 0 };

  if (gf_onnx_save (m->graph, &what, model_path, &gf_error) != GF_OK)
    {
      fprintf (stderr, "fuzz-model: cannot write %s: %s\n", model_path,
               gf_error.message);
      abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GraftBackbone) model = NULL;
  g_autoptr (GError) error = NULL;
  const char *const *labels;
  GfModel *m;
  gboolean sigmoid = FALSE;
  size_t outputs;

  write_model (text);
  model = graft_backbone_load (model_path, NULL, &error);
  if (model == NULL)
    {
      /* The model is good: only its metadata changed. */
      fprintf (stderr, "fuzz-model: the model no longer loads: %s\n",
               error->message);
      abort ();
    }
  m = graft_backbone_get_model (model);
  outputs = gf_graph_tensor_count (m->graph, m->output);
  labels = graft_backbone_get_labels (model, &sigmoid, &error);
  if (labels == NULL)
    {
      if (error == NULL || strchr (error->message, '\n') != NULL)
        abort ();
      fuzz_report ("labels", error);
      return 0;
    }
  if (g_strv_length ((char **) labels) != (sigmoid ? 2 : outputs))
    abort ();
  for (guint i = 0; labels[i] != NULL; i++)
    if (!g_utf8_validate (labels[i], -1, NULL))
      abort ();
  return 0;
}
