#!/usr/bin/env bash
# Builds the real world's programs from their Go modules (testworld/*/go.mod), through
# the Go module proxy only, into a cache outside the clone keyed by each module's pins:
#
#   $GITOPS_TESTWORLD_CACHE (default ~/.cache/backstage-gitops/testworld)
#     <component>-<key>/bin/<program>   one folder per component and pin set
#     <component>-<key>/crds/*.yaml     the CRDs the Flux controllers' modules ship
#
# A second run finds every folder and takes seconds. Prints the folder of each component
# as `<component>=<dir>` lines on stdout (progress goes to stderr). `--only a,b` builds
# those components alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${GITOPS_TESTWORLD_CACHE:-$HOME/.cache/backstage-gitops/testworld}"
only=""
if [ "${1:-}" = "--only" ]; then only=",$2,"; fi
export GOFLAGS="${GOFLAGS:--mod=mod} -buildvcs=false"
export CGO_ENABLED=0

# Part of every cache key: raise it when the way a component is built changes.
RECIPE=2

command -v go >/dev/null || { echo "testworld: no Go on this machine" >&2; exit 3; }
log() { echo "testworld: $*" >&2; }

# The components, their folders and their programs (as each go.mod's tool lines name them).
components=(
  etcd
  kubernetes
  kwok
  flux/source-controller
  flux/kustomize-controller
  flux/notification-controller
  flux/helm-controller
  flux/flux-cli
)

ldflags_for() {
  case "$1" in
    kubernetes)
      local version
      version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/kubernetes/go.mod")"
      local minor="${version#v1.}"
      minor="${minor%%.*}"
      echo "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
      ;;
    *) echo "-s -w" ;;
  esac
}

# While a long build runs, say every 30 s that it still does.
with_progress() {
  local what="$1"
  shift
  local start=$SECONDS
  ("$@") &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null && (((SECONDS - start) % 30 < 5)); then
      log "  still building $what ($((SECONDS - start)) s)"
    fi
  done
  wait "$pid"
}

build_component() {
  local component="$1"
  local dir="$here/$component"
  local key
  key="$(cat "$dir/go.mod" "$dir/go.sum" <(go env GOVERSION; echo "$RECIPE") | sha256sum | cut -c1-12)"
  local out="$cache/${component//\//-}-$key"
  if [ -f "$out/.complete" ]; then
    echo "${component}=$out"
    return
  fi
  local tools
  mapfile -t tools < <(awk '/^tool \($/ { t = 1; next } t && /^\)/ { t = 0 } t { print $1 } /^tool [^(]/ { print $2 }' "$dir/go.mod")
  log "building $component: a first build takes minutes"
  local start=$SECONDS
  rm -rf "$out.partial" && mkdir -p "$out.partial/bin"
  (
    cd "$dir"
    go mod download
    if [ "$component" = "flux/flux-cli" ]; then
      build_flux_cli "$out.partial/bin"
    else
      with_progress "$component" go build -trimpath -ldflags "$(ldflags_for "$component")" -o "$out.partial/bin/" "${tools[@]}"
    fi
    # kwok's Stages (fake nodes that turn Ready, pods that run), as its module ships them.
    if [ "$component" = kwok ]; then
      local stages
      stages="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
      mkdir -p "$out.partial/stages"
      cp "$stages"/node/fast/node-initialize.yaml "$stages"/node/heartbeat/node-heartbeat.yaml "$out.partial/stages/"
      for stage in "$stages"/pod/general/pod-*.yaml; do cp "$stage" "$out.partial/stages/"; done
    fi
    # The CRDs a Flux controller's module ships, as the world installs them.
    if [[ "$component" == flux/*-controller ]]; then
      local module_dir
      module_dir="$(go list -m -f '{{.Dir}}' "github.com/fluxcd/${component#flux/}")"
      mkdir -p "$out.partial/crds"
      cp "$module_dir"/config/crd/bases/*.yaml "$out.partial/crds/"
    fi
  )
  # `go build` names a program after its package path, but for a /vN suffix.
  if [ -f "$out.partial/bin/server" ] && [ "$component" = etcd ]; then
    mv "$out.partial/bin/server" "$out.partial/bin/etcd"
  fi
  touch "$out.partial/.complete"
  rm -rf "$out" && mv "$out.partial" "$out"
  # Earlier pins of the component are not kept (Kubernetes alone is about 300 MB).
  local earlier
  for earlier in "$cache/${component//\//-}-"*; do
    [ "$earlier" = "$out" ] || rm -rf "$earlier"
  done
  log "built $component in $((SECONDS - start)) s"
  echo "${component}=$out"
}

# The flux CLI embeds install manifests that its Makefile generates and its module does
# not ship: it is built from a copy of the module with an empty set (`flux install` is
# not available; `flux get` and `flux reconcile` are).
build_flux_cli() {
  local bin="$1"
  local module_dir
  module_dir="$(go list -m -f '{{.Dir}}' github.com/fluxcd/flux2/v2)"
  local copy="$cache/.flux2-src"
  rm -rf "$copy" && cp -r "$module_dir" "$copy" && chmod -R u+w "$copy"
  mkdir -p "$copy/cmd/flux/manifests"
  echo "# flux install is not available in the test world" > "$copy/cmd/flux/manifests/empty.yaml"
  local modfile="$cache/.flux-cli.go.mod"
  cp go.mod "$modfile" && cp go.sum "${modfile%.mod}.sum"
  echo "replace github.com/fluxcd/flux2/v2 => $copy" >> "$modfile"
  with_progress flux go build -modfile "$modfile" -trimpath -ldflags "-s -w" -o "$bin/flux" github.com/fluxcd/flux2/v2/cmd/flux
  rm -rf "$copy" "$modfile" "${modfile%.mod}.sum"
}

mkdir -p "$cache"
total=$SECONDS
for component in "${components[@]}"; do
  if [ -n "$only" ] && [[ "$only" != *",$component,"* ]]; then continue; fi
  build_component "$component"
done
log "every component ready in $((SECONDS - total)) s (cache: $cache)"
