# tools/setup.sh: what tools/run and tools/test share: the Debian packages
# Graft builds and tests with, installed when missing, and the build tree.
# Sourced, not run.

# One package a line, with what needs it.
GRAFT_PACKAGES=(
  gcc ninja-build meson pkg-config   # the build
  libopenblas-dev                    # the engine's GEMM
  libprotobuf-c-dev protobuf-c-compiler  # reading and writing ONNX
  libglib2.0-dev                     # everything above the engine, tests
  xvfb xauth                         # GUI tests on a headless machine
)

# Installs whatever of GRAFT_PACKAGES is missing, through sudo when not root.
graft_install_packages ()
{
  local missing=() sudo=()
  for pkg in "${GRAFT_PACKAGES[@]}"; do
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

# Configures (once) and builds the tree $1 with the meson options after it.
graft_build ()
{
  local dir=$1; shift
  if [[ ! -f $dir/build.ninja ]]; then
    meson setup "$dir" "$@"
  fi
  meson compile -C "$dir"
}
