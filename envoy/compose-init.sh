#!/bin/sh
# The compose mesh's `build` step (docker-compose.yml), in a pinned node image: the repository (mounted
# read-only at /repo) is copied into the `workspace` volume, `npm ci` runs when package-lock.json changed,
# the module is built when a source is newer than it, and the Envoy configs of the mesh input are rendered
# into the `mesh` volume with the module. Nothing is written into the repository.
set -eu
REPO=${REPO:-/repo} WORK=${WORK:-/work} OUT=${OUT:-/mesh}
cd "$WORK"
# Sources as in the repository (deleted files go too); installed modules and the build are kept.
find "$WORK" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name build ! -name .lock.sha256 -exec rm -rf {} +
tar -C "$REPO" --exclude=./node_modules --exclude=./build --exclude=./.git --exclude=./certs -cf - . | tar -xf - --no-same-owner
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat .lock.sha256 2>/dev/null || true)" != "$lock" ]; then
  npm ci --no-audit --no-fund
  echo "$lock" > .lock.sha256
fi
node scripts/build.mjs --if-stale --only release
mkdir -p "$OUT/envoy"
cp build/mesh-filters.wasm "$OUT/mesh-filters.wasm.tmp" && mv "$OUT/mesh-filters.wasm.tmp" "$OUT/mesh-filters.wasm"
rm -rf "$OUT"/envoy/*
# MESH_INPUT: a mesh input or CR files/directories inside the repository; the rest chooses what to render.
set -- ${MESH_INPUT:-wasmplugin/mesh.example.yaml}
[ -n "${MESH_CALLER:-}" ] && set -- "$@" --caller "$MESH_CALLER"
[ -n "${MESH_CALLEE:-}" ] && set -- "$@" --callee "$MESH_CALLEE"
[ -n "${MESH_TRACER:-}" ] && set -- "$@" --tracer "$MESH_TRACER"
[ -n "${MESH_SAMPLING:-}" ] && set -- "$@" --sampling "$MESH_SAMPLING"
node --import tsx envoy/render.ts "$@" --out "$OUT/envoy"
