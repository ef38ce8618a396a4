#!/bin/sh
# check-potfiles.sh SOURCE_ROOT: po/POTFILES.in lists every app and data
# layer source and every interface file with a translatable string, and
# nothing that is gone.
cd "$1" || exit 2
status=0
for f in $(grep -lE '(^|[^a-zA-Z0-9_])(N?C?_|ngettext|g_dngettext) ?\(' \
             src/app/*.c src/data/*.c) \
         $(grep -l 'translatable="yes"' ui/*.ui); do
  grep -qx "$f" po/POTFILES.in || { echo "not in po/POTFILES.in: $f"; status=1; }
done
for f in $(grep -v '^#' po/POTFILES.in); do
  [ -f "$f" ] || { echo "in po/POTFILES.in but missing: $f"; status=1; }
done
exit $status
