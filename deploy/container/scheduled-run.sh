#!/bin/sh
# One scheduled run (the ECS Fargate task and the Kubernetes CronJob of docs/deploy.md):
#
#   auditor-scheduled-run s3://BUCKET[/PREFIX] [auditor scan options...]
#
# runs `auditor scan OPTIONS --out RUN` into a new folder RUN (run-<UTC time>, under
# $AUDITOR_WORK_DIR, else $TMPDIR, else /tmp), then, when the scan left a finished bundle
# (RUN/bundle.json), copies it to s3://BUCKET/PREFIX/run-<UTC time>/ with
# auditor-upload-bundle. When $AUDITOR_CONFIG_TEXT is set (ECS: the audit config from an SSM
# parameter), it is written to a file and given as --config.
#
# Exit code: the scan's own (0, 1, 3, 4: docs/cli.md) once the bundle is uploaded; 6 when the
# upload failed (the evidence is not where it was asked for); the scan's code when it left no
# bundle (2, 6, 130: nothing is uploaded).
set -u

[ $# -ge 1 ] || { echo "usage: auditor-scheduled-run s3://BUCKET[/PREFIX] [auditor scan options...]" >&2; exit 2; }
dest=$1
shift
case "$dest" in
  s3://?*) ;;
  *) echo "error: the first argument must be s3://BUCKET[/PREFIX], not '$dest'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/auditor-upload-bundle" ]; then upload=$here/auditor-upload-bundle   # installed (the image)
else upload=$here/upload_bundle.py; fi                                              # a checkout

work=${AUDITOR_WORK_DIR:-${TMPDIR:-/tmp}}
run=$work/run-$(date -u +%Y%m%dT%H%M%SZ)

if [ -n "${AUDITOR_CONFIG_TEXT:-}" ]; then
  config=$work/audit-config-$$.yaml
  printf '%s' "$AUDITOR_CONFIG_TEXT" > "$config" || { echo "error: cannot write $config" >&2; exit 6; }
  set -- --config "$config" "$@"
fi

code=0
auditor scan "$@" --out "$run" || code=$?

if [ ! -f "$run/bundle.json" ]; then
  echo "auditor-scheduled-run: the scan exited $code and left no finished bundle: nothing uploaded" >&2
  [ "$code" -ne 0 ] || code=6
  exit "$code"
fi
if ! "$upload" "$run" "$dest"; then
  echo "auditor-scheduled-run: the scan exited $code but its bundle was not uploaded: exit 6" >&2
  exit 6
fi
echo "auditor-scheduled-run: scan exit code $code"
exit "$code"
