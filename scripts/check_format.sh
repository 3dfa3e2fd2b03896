#!/usr/bin/env bash
# Style check run by .ci/run: swift-format's lint with the repository's .swift-format (120 columns,
# 2-space indentation, layout only: no rewriting rules), then a column count that also catches the
# string literals and comments swift-format cannot break. `make format` rewrites the files.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive Sources Tests Package.swift
python3 - <<'PY'
import glob, sys
bad = []
for f in sorted(glob.glob("Sources/**/*.swift", recursive=True) + glob.glob("Tests/**/*.swift", recursive=True)
                + ["Package.swift"]):
    for i, line in enumerate(open(f, encoding="utf-8").read().split("\n")):
        if len(line.encode("utf-8")) > 120:  # bytes, so a tool counting bytes agrees
            bad.append(f"{f}:{i + 1}: {len(line.encode())} bytes (limit 120)")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
echo "format: ok (swift-format lint, ≤ 120 columns)"
