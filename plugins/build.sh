#!/usr/bin/env bash
# Builds every plugin in this workspace to a WebAssembly component.
#
#   plugins/build.sh
#
# Output: one `<name>.wasm` component per plugin in target/plugins/ (the
# default `[plugins] dir`), the template in target/plugins/examples/, test
# plugins in target/plugins/test/.
# Installs what is missing: a wasm32 toolchain (rustup's target where it can
# be added, else Debian's rustc-web + rust-web-src + lld-16 with -Zbuild-std)
# and wasm-tools (to wrap core modules into components).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

WASM_TOOLS_VERSION="1.258.3"
TARGET="wasm32-unknown-unknown"
PROFILE="plugin"
target_dir="$root/target/wasm"
out_dir="$root/target/plugins"

plugins=(webhook slack discord razorpay github stripe shopify hmac)
# Built, but kept out of the default plugins dir (they are not providers).
example_plugins=(template)
test_plugins=(misbehave wrong-abi)

log() { printf '\033[1m[plugins]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_ensure() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Chooses how to build for wasm32 and exports the environment for it.
# HOOKMESH_WASM_TOOLCHAIN=debian forces the Debian recipe (to test it where
# rustup has the target); =rustup forces rustup's target.
setup_toolchain() {
  local choice="${HOOKMESH_WASM_TOOLCHAIN:-auto}"
  if [ "$choice" = rustup ] || { [ "$choice" = auto ] && {
       rustup target list --installed 2>/dev/null | grep -qx "$TARGET" \
       || rustup target add "$TARGET" >/dev/null 2>&1; }; }; then
    log "using rustup's $TARGET target"
    build_std=()
    return
  fi
  log "rustup has no $TARGET; using Debian's rustc-web with -Zbuild-std"
  apt_ensure rustc-web rust-web-src lld-16
  export RUSTC=/usr/bin/rustc
  export RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-16
  build_std=(-Zbuild-std=std,panic_abort)
  # Keep the two toolchains' artifacts apart: no rebuilds when switching.
  target_dir="$root/target/wasm-debian"
}

ensure_wasm_tools() {
  if command -v wasm-tools >/dev/null 2>&1 \
     && [ "$(wasm-tools --version | awk '{print $2}')" = "$WASM_TOOLS_VERSION" ]; then
    return
  fi
  log "installing wasm-tools $WASM_TOOLS_VERSION (cargo install, once)"
  # Built by the normal toolchain, not the wasm one.
  env -u RUSTC -u RUSTC_BOOTSTRAP cargo install --quiet --locked \
    --no-default-features --features component \
    wasm-tools --version "$WASM_TOOLS_VERSION"
}

componentize() {
  local crate_dir="$1" dest="$2"
  local name lib
  name="$(basename "$crate_dir")"
  lib="$(grep -m1 '^name' "$crate_dir/Cargo.toml" | sed 's/.*"\(.*\)"/\1/' | tr - _)"
  mkdir -p "$(dirname "$dest")"
  wasm-tools component new "$target_dir/$TARGET/$PROFILE/$lib.wasm" -o "$dest"
  log "built $dest ($(stat -c %s "$dest") bytes)"
}

main() {
  ensure_wasm_tools
  setup_toolchain
  local packages=()
  for p in "${plugins[@]}" "${example_plugins[@]}"; do packages+=(-p "hookmesh-plugin-$p"); done
  for p in "${test_plugins[@]}"; do packages+=(-p "hookmesh-testplugin-$p"); done
  log "compiling ${#plugins[@]} plugins, ${#example_plugins[@]} example and ${#test_plugins[@]} test plugins for $TARGET"
  cargo build --quiet --profile "$PROFILE" --target "$TARGET" --target-dir "$target_dir" \
    "${build_std[@]}" "${packages[@]}"
  for p in "${plugins[@]}"; do componentize "plugins/$p" "$out_dir/$p.wasm"; done
  for p in "${example_plugins[@]}"; do componentize "plugins/$p" "$out_dir/examples/$p.wasm"; done
  for p in "${test_plugins[@]}"; do componentize "tests/plugins/$p" "$out_dir/test/$p.wasm"; done
}

main "$@"
