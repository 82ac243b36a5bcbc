#!/bin/sh
# Builds the statically linked nfwd that the SF host's Docker backend puts in its images
# (FROM scratch: no libc, no loader) and prints its path. Run from anywhere in the tree:
#
#     scripts/build-static-nfwd.sh            # -> target/static-sf/x86_64-unknown-linux-gnu/release/nfwd
#     nfwd start --sf-host --sf-backend docker --sf-docker-binary "$(scripts/build-static-nfwd.sh)"
#
# The same command as nfwd_sf_host::docker::build_static_nfwd (which the Docker tests call):
# the explicit --target keeps crt-static away from build scripts and proc macros, and the
# separate target directory keeps these artefacts from invalidating the ordinary ones.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${NFWD_STATIC_TARGET_DIR:-$root/target/static-sf}
triple=x86_64-unknown-linux-gnu
cd "$root"
env -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET \
    RUSTFLAGS='-C target-feature=+crt-static' CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo build --release -p nfwd --target "$triple" --target-dir "$target_dir" >&2
binary=$target_dir/$triple/release/nfwd
# A binary with an ELF interpreter cannot run in an empty root filesystem.
if readelf -l "$binary" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "error: $binary is not statically linked" >&2
    exit 1
fi
echo "$binary"
