# tools/setup.sh: what tools/run and tools/test share: the Debian packages
# Graft builds and tests with, installed when missing, and the build tree.
# Sourced, not run.

# One package a line, with what needs it.
GRAFT_PACKAGES=(
  gcc ninja-build meson pkg-config   # the build
  libopenblas-dev                    # the engine's GEMM
  libprotobuf-c-dev protobuf-c-compiler  # reading and writing ONNX
  libglib2.0-dev                     # everything above the engine, tests
  libgdk-pixbuf-2.0-dev              # decoding pictures
  libjson-glib-dev                   # run.json, graft-cli's JSON
  libgtk-4-dev libadwaita-1-dev      # the desktop app
  gettext desktop-file-utils         # translations; validating the desktop file
  appstream                          # tests: appstreamcli validates the metainfo
  adwaita-icon-theme                 # the app's symbolic icons
  locales                            # tests: a decimal-comma locale
  python3-torch python3-torchvision  # tests: torchvision's real backbones
  xvfb xauth                         # GUI tests on a headless machine
  dbus dbus-x11 at-spi2-core python3-pyatspi  # tests: driving the app through accessibility
  imagemagick                        # tools/screenshots: capturing the screen
  python3-onnx                       # tests: onnx.checker on exported files
)

# tools/fuzz only: clang, and libFuzzer's runtime with the sanitizers'
# (libclang_rt.fuzzer-x86_64.a) for Debian 12's clang 14.
GRAFT_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# Installs the Debian packages named (those not installed yet), through
# sudo when not root.
graft_apt_install ()
{
  local missing=() sudo=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "Need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "Installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Installs whatever of GRAFT_PACKAGES is missing.
graft_install_packages ()
{
  graft_apt_install "${GRAFT_PACKAGES[@]}"
}

# ONNX Runtime for the export tests: the npm package onnxruntime-node, at
# the version tests/tools/package-lock.json pins, in tests/tools/node_modules
# (ignored by git).  Its CPU library ships inside the package, so its
# install script (which would fetch GPU builds) is skipped.  Node.js and
# npm come from PATH when there, else from Debian.  Does nothing when the
# pinned version is already there.
GRAFT_ORT_DIR=$PWD/tests/tools
graft_install_onnx_runtime ()
{
  local want
  command -v node >/dev/null || graft_apt_install nodejs
  command -v npm >/dev/null || graft_apt_install npm
  want=$(node -p "require(process.argv[1] + '/package.json').dependencies['onnxruntime-node']" "$GRAFT_ORT_DIR")
  if [[ $(node -p "try { require(process.argv[1] + '/node_modules/onnxruntime-node/package.json').version } catch { '' }" "$GRAFT_ORT_DIR") != "$want" ]]; then
    echo "Installing onnxruntime-node $want into $GRAFT_ORT_DIR/node_modules" >&2
    (cd "$GRAFT_ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error) || return 1
    node "$GRAFT_ORT_DIR/ort-run.mjs" --check >/dev/null \
      || { echo "onnxruntime-node $want installed but does not load" >&2; return 1; }
  fi
  export GRAFT_ORT_DIR
}

# Configures (once) and builds the tree $1 with the meson options after it.
graft_build ()
{
  local dir=$1; shift
  if [[ ! -f $dir/build.ninja ]]; then
    meson setup "$dir" "$@"
  fi
  meson compile -C "$dir"
}
