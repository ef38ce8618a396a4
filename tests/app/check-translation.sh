#!/bin/sh
# check-translation.sh SOURCE_ROOT: every translation in po/LINGUAS is
# complete and current.  msgfmt --check must pass with no fuzzy or
# untranslated message; and merged against a template made afresh from
# the sources in po/POTFILES.in (xgettext with the options of meson's
# 'glib' preset), no message may be untranslated or fuzzy: a string added
# or changed in the sources without its translation fails here.
cd "$1" || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
status=0

xgettext --package-name=graft --output="$tmp/graft.pot" \
  --files-from=po/POTFILES.in --directory=. \
  --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 \
  --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format \
  --flag=NC_:2:pass-c-format --flag=g_dngettext:2:pass-c-format \
  --flag=g_strdup_printf:1:c-format --flag=g_string_printf:2:c-format \
  --flag=g_string_append_printf:2:c-format --flag=g_error_new:3:c-format \
  --flag=g_set_error:4:c-format --flag=g_markup_printf_escaped:1:c-format \
  --flag=g_log:3:c-format --flag=g_print:1:c-format \
  --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format \
  --flag=g_snprintf:3:c-format \
  || { echo "xgettext failed"; exit 1; }

# The msgids of the messages msgattrib selects (--untranslated or
# --only-fuzzy), one a line.
list ()
{
  msgattrib "$1" --no-obsolete --no-wrap --no-location "$2" \
    | sed -n 's/^msgid "\(..*\)"$/  \1/p'
}

for lang in $(grep -v '^#' po/LINGUAS); do
  po=po/$lang.po
  [ -f "$po" ] || { echo "$po: in po/LINGUAS but missing"; status=1; continue; }
  # "N translated messages, M fuzzy translations, K untranslated messages."
  stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1) \
    || { echo "$po: msgfmt --check fails:"; echo "$stats"; status=1; continue; }
  echo "$po: $stats"
  case $stats in
    *fuzzy*|*untranslated*) echo "$po: not complete"; status=1 ;;
  esac

  msgmerge --quiet --previous -o "$tmp/$lang.po" "$po" "$tmp/graft.pot" \
    || { echo "$po: msgmerge failed"; status=1; continue; }
  untranslated=$(list --untranslated "$tmp/$lang.po")
  fuzzy=$(list --only-fuzzy "$tmp/$lang.po")
  if [ -n "$untranslated" ]; then
    echo "$po: untranslated against the sources (run meson compile graft-update-po, then translate):"
    echo "$untranslated"
    status=1
  fi
  if [ -n "$fuzzy" ]; then
    echo "$po: changed in the sources, translation to check (fuzzy):"
    echo "$fuzzy"
    status=1
  fi
done
exit $status
