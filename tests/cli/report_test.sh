#!/bin/bash
# `reforge report` writes one self-contained page: it renders in headless
# Chromium with the training and validation curves, the memory plan and
# the samples, and it loads nothing from the network.
set -u
reforge="$1"
work="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

"$reforge" train byte-lm --data=builtin --steps=60 --eval_every=20 --samples=1 --sample_length=40 --threads=1 \
  --run_dir="$work/run" > "$work/train.txt" 2>&1 || { cat "$work/train.txt"; exit 1; }
"$reforge" report "$work/run" -o "$work/report.html" || exit 1

# Self-contained: no attribute loads anything by URL (the SVG namespace
# names, it does not load).
if grep -oE '(src|href|url)\s*[=(]\s*"?[a-z]+:' "$work/report.html" | grep -v 'data:' | head -3 | grep -q .; then
  fail "the page refers to outside resources: $(grep -oE '(src|href)="[^"]*"' "$work/report.html" | head -3)"
else
  pass "nothing is loaded by URL"
fi
grep -q '<script' "$work/report.html" && fail "the page runs scripts" || pass "no scripts"

chromium="${REFORGE_CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium" ]; then
  echo "SKIPPED: Chromium is not installed (scripts/install_test_deps.sh installs it); static checks only"
  echo "$failures failures"
  [ $failures = 0 ]
  exit
fi
export HOME="$work"  # Chromium writes its profile there
# --host-resolver-rules: any name lookup fails, so a page that tried to
# load something would show it broken, not fetch it.
flags=(--headless --no-sandbox --disable-gpu --host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$work/profile")
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/report.html" > "$work/dom.html" 2> "$work/chromium.log"
for class in train validation baseline memory-plan samples; do
  grep -q "class=\"$class\"" "$work/dom.html" && pass "rendered: $class" || fail "no $class in the rendered page"
done
points=$(grep -o 'class="validation"[^>]*points="[^"]*"' "$work/dom.html" | grep -oE '[0-9.]+,[0-9.]+' | wc -l)
[ "$points" -ge 3 ] && pass "the validation curve has $points points" || fail "validation curve points: $points"
grep -q '<rect' "$work/dom.html" && pass "the memory plan picture has its buffers" || fail "no plan buffers"
timeout 120 "$chromium" "${flags[@]}" --screenshot="$work/report.png" --window-size=1200,1600 \
  "file://$work/report.html" 2>> "$work/chromium.log"
size=$(stat -c %s "$work/report.png" 2> /dev/null || echo 0)
[ "$size" -gt 20000 ] && pass "screenshot of $size bytes" || fail "screenshot $size bytes: $(tail -3 "$work/chromium.log")"
echo "$failures failures"
[ $failures = 0 ]
