#!/usr/bin/env bash
# Build the one-folder bundle (dist/fleet-console/) and smoke-test what was built.
# Usage: packaging/build.sh   (run by `make package`; needs the venv with the "package" extra)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/fleet-console.spec

bundle=dist/fleet-console/fleet-console
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "smoke test: $bundle --smoke-test"
# No Python on PATH for the bundle: it must run on what it carries.
if ! env -i HOME="$work" PATH=/usr/bin:/bin "$bundle" --data-dir "$work/data" --smoke-test \
        >"$work/smoke.log" 2>&1; then
    cat "$work/smoke.log"
    echo "smoke test FAILED" >&2
    exit 1
fi
# Errors the log may show that are harmless on a headless, GPU-less machine (stack-recipes §1).
allowed='propagateSizeHints|QRhiGles2|Failed to create RHI|Failed to create context|GPUInfo|Sandboxing disabled|dbus'
unexpected=$(grep -E 'ERROR|CRITICAL|Traceback|Error:' "$work/smoke.log" | grep -Ev "$allowed" || true)
if [ -n "$unexpected" ]; then
    cat "$work/smoke.log"
    echo "smoke test printed unexpected errors:" >&2
    echo "$unexpected" >&2
    exit 1
fi
grep -E 'smoke test:' "$work/smoke.log"
echo "bundle size: $(du -sh dist/fleet-console | cut -f1)"
