/* main.c: graft, the desktop app. */
#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>

#include "graft-application.h"

int
main (int argc, char **argv)
{
  g_autoptr (GraftApplication) app = NULL;
  /* Run from the build tree (tools/run), the translations are the build's
   * own, in its po/ folder: nothing needs installing to try them. */
  const char *localedir = g_getenv ("GRAFT_LOCALEDIR");

  /* Under a limit on file size (ulimit -f) a write past it fails with
   * EFBIG, which Graft reports and survives, rather than killing it. */
  signal (SIGXFSZ, SIG_IGN);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && localedir[0] != '\0'
                                   ? localedir : GRAFT_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = graft_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
