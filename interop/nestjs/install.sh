#!/bin/sh
# Installs the three pinned NestJS majors, each into its own folder
# (v10/, v11/, v12/), exactly as recorded in that folder's package-lock.json.
# No install scripts run and nothing is built. Needs node >= 20 and npm.
set -eu
cd "$(dirname "$0")"
for d in v10 v11 v12; do
  echo "== npm ci --ignore-scripts in interop/nestjs/$d" >&2
  (cd "$d" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
done
