/* graft-error.c: error domains and the engine-to-GError conversion. */
#define G_LOG_DOMAIN "graft-error"

#include "graft-error.h"

G_DEFINE_QUARK (graft-engine-error-quark, graft_engine_error)
G_DEFINE_QUARK (graft-data-error-quark, graft_data_error)

gboolean
graft_engine_error (GError **error, GfStatus status, const GfError *gf_error)
{
  const char *message = gf_error != NULL && gf_error->message[0] != '\0'
    ? gf_error->message : gf_status_to_string (status);

  g_set_error_literal (error, GRAFT_ENGINE_ERROR, (int) status, message);
  return FALSE;
}
