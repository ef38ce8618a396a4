#!/bin/sh
# check-install.sh BUILD_DIR SOURCE_ROOT DATADIR BINDIR: `meson install` into a
# temporary DESTDIR puts everything a desktop needs where it looks: the
# graft and graft-cli binaries, the desktop file, the metainfo, the
# settings schema, both icons, the translations, the bundled backbones and
# the sample data; and the installed desktop file and metainfo validate.
build=$1 source=$2 datadir=$3 bindir=$4
dest=$(mktemp -d) || exit 2
trap 'rm -rf "$dest"' EXIT
app=io.github.graft.Graft
status=0

# --no-rebuild: meson test has built everything; a second ninja run
# inside a test would race the other tests.
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet \
  >"$dest.log" 2>&1 || { cat "$dest.log"; rm -f "$dest.log"; exit 1; }
rm -f "$dest.log"

share=$dest$datadir
for f in "$dest$bindir/graft" "$dest$bindir/graft-cli"; do
  [ -x "$f" ] || { echo "not installed or not executable: $f"; status=1; }
done
for f in \
    "$share/applications/$app.desktop" \
    "$share/metainfo/$app.metainfo.xml" \
    "$share/glib-2.0/schemas/$app.gschema.xml" \
    "$share/icons/hicolor/scalable/apps/$app.svg" \
    "$share/icons/hicolor/symbolic/apps/$app-symbolic.svg" \
    "$share/graft/backbones/fashion-cnn.onnx" \
    "$share/graft/backbones/fashion-resnet.onnx" \
    "$share/graft/samples/fashion"; do
  [ -e "$f" ] || { echo "not installed: $f"; status=1; }
done
for lang in $(grep -v '^#' "$source/po/LINGUAS"); do
  f=$share/locale/$lang/LC_MESSAGES/graft.mo
  [ -s "$f" ] || { echo "not installed: $f"; status=1; }
done
# The sample data: one folder per class, pictures in each.
n=$(find "$share/graft/samples/fashion" -mindepth 2 -name '*.png' | wc -l)
[ "$n" -gt 0 ] || { echo "no sample pictures installed"; status=1; }

desktop-file-validate "$share/applications/$app.desktop" || status=1
appstreamcli validate --no-net "$share/metainfo/$app.metainfo.xml" || status=1
# The desktop file and the metainfo name the same icon and launcher.
grep -qx "Icon=$app" "$share/applications/$app.desktop" \
  || { echo "the desktop file does not name the icon $app"; status=1; }
grep -q "<launchable type=\"desktop-id\">$app.desktop</launchable>" \
  "$share/metainfo/$app.metainfo.xml" \
  || { echo "the metainfo does not launch $app.desktop"; status=1; }
exit $status
