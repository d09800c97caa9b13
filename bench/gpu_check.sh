#!/usr/bin/env bash
# The GPU check in one command (issue 14):
#
#     OUT=/some/folder bench/gpu_check.sh          # results under $OUT (default ./gpu_check_out)
#
# On a machine where CuPy is importable and sees a GPU it runs, each step capped so that the whole
# fits in 8 minutes:
#   1. python -m pytest tests/gpu           every GPU-path test, on the CuPy stand-in and on the GPU
#   2. bench/gpu_check.py compare           one evaluation at 512 px on the GPU and on the CPU:
#                                           the losses' and the gradient's agreement, seconds each
#   3. python -m minivgg.stylize            512 px, 500 iterations, --log: per-iteration seconds
#   4. python -m minivgg.stylize            print sizes, real weights' look kept (--balance-size 256):
#                                           coarse-to-fine to 2048 px under --max-memory 8G and to
#                                           4096 px under 12G (tiled on the device), with the device's
#                                           peak memory (nvidia-smi) and CuPy's pool's
#   5. bench/bench_vgg.py --device gpu      per layer and per unit, 256 and 512 px
# with random weights of VGG19's shapes (python -m minivgg.weights random; the 80 MB real file does
# not travel to the device machines): speed and GPU-vs-CPU agreement are the real network's, the
# pictures are not. GPU_CHECK_WEIGHTS=FILE uses that weights file instead (a float16 copy of the real
# one is 40 MB, small enough to travel: then the pictures are real too). Without a GPU it runs the same steps on the CuPy stand-in of tests/gpu (NumPy on
# the CPU, strict as CuPy) at small sizes, says so, and exits 0 when they pass: the timings are then
# the CPU's, and what is checked is that every step runs the GPU code path.
#
# Settings (environment): PYTHON (default python3); GPU_CHECK_STANDIN=1 (the stand-in even with a
# GPU); GPU_CHECK_SIZE, GPU_CHECK_ITERATIONS (the stylisation); GPU_CHECK_OPTIMIZER (default:
# lbfgs-xp where the command line has it, else lbfgs); GPU_CHECK_STEPS (default "tests compare
# stylize print bench": which steps; the random weights are made unless GPU_CHECK_WEIGHTS is set);
# GPU_CHECK_PRINT (the print runs, "SIZE:MAX_MEMORY:LEVELS:ITERATIONS ...", ITERATIONS one number or
# one per level); GPU_CHECK_PRINT_ARGS (their other stylize arguments; default "--balance-size 256");
# GPU_CHECK_PYTEST (extra pytest arguments: "-k cupy" runs the real GPU's cases
# only); GPU_CHECK_QUICK=1 (tiny sizes and network: what the test suite runs).
# Exit status: 0 when every step passed, 1 otherwise (each step's output is in $OUT/<step>.log).

set -u -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
START=$(date +%s)

if [ "${GPU_CHECK_STANDIN:-0}" != 1 ] &&
   "$PY" -c 'import sys, cupy; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)' >/dev/null 2>&1; then
    MODE=gpu
    SIZE=512; ITERS=500; WIDTHS=(); COMPARE_SIZE=512; DEVICE_PATH=""
    BENCH=(--sizes 256 512 --repeats 5)
    PRINTS="2048:8G:3:200,50,15 4096:12G:4:200,50,20,10"
    LIMITS=(30 150 60 120 110 120)      # seconds: weights, tests, compare, stylize, bench, each print
                                        # (on an H200, 2026-11-30: 1, 37, 13, 13, 32, 14 and 33)
else
    MODE=standin
    SIZE=64; ITERS=20; WIDTHS=(); COMPARE_SIZE=64; DEVICE_PATH="$ROOT/tests/gpu/standin"
    BENCH=(--sizes 32 --repeats 1 --peak-n 256 --algo auto direct --layer-algo auto)
    PRINTS="128:1G:2:4,2"
    LIMITS=(60 400 200 400 300 300)
fi
if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then
    SIZE=32; ITERS=3; WIDTHS=(--widths 4 8 8 16 16); COMPARE_SIZE=32
    BENCH=(--sizes 32 --repeats 1 --peak-n 128 --algo auto --no-layers --no-lbfgs)
    PRINTS="64:1G:2:2,1"
fi
PRINTS=${GPU_CHECK_PRINT:-$PRINTS}
SIZE=${GPU_CHECK_SIZE:-$SIZE}
ITERS=${GPU_CHECK_ITERATIONS:-$ITERS}

say "# minivgg GPU check, $(date '+%Y-%m-%d %H:%M'), results in $OUT"
if [ "$MODE" = gpu ]; then
    say "# mode: GPU ($("$PY" -c 'import cupy; p = cupy.cuda.runtime.getDeviceProperties(0); print(p["name"].decode(), "|", "CuPy", cupy.__version__)' 2>&1))"
else
    say "# mode: STAND-IN -- no usable GPU here (or GPU_CHECK_STANDIN=1): the same steps run on the CuPy"
    say "#       stand-in of tests/gpu (NumPy on the CPU, as strict as CuPy) at small sizes; the timings are"
    say "#       the CPU's, not a GPU's"
fi
{ "$PY" -c 'import sys, numpy, scipy, PIL; print("python", sys.version.split()[0], "| numpy", numpy.__version__, "| scipy", scipy.__version__, "| pillow", PIL.__version__)'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
} > "$OUT/environment.txt" 2>&1
say "# $(head -1 "$OUT/environment.txt")"

FAILED=0
# step NAME LIMIT_SECONDS ON_DEVICE(0/1) COMMAND...: run, time and log one step
step() {
    local name=$1 limit=$2 on_device=$3
    shift 3
    local t0 t1 rc
    t0=$(date +%s.%N)
    if [ "$on_device" = 1 ] && [ -n "$DEVICE_PATH" ]; then
        PYTHONPATH="$DEVICE_PATH:$PYTHONPATH" timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    else
        timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    fi
    rc=$?
    t1=$(date +%s.%N)
    local dt
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc = 0 ]; then
        say "ok    $name (${dt} s)"
    else
        local why="exit $rc"
        [ $rc = 124 ] && why="stopped after its ${limit} s"
        say "FAIL  $name ($why, ${dt} s): $OUT/$name.log ends with:"
        tail -n 5 "$OUT/$name.log" | sed 's/^/      /' | tee -a "$SUMMARY"
        FAILED=1
    fi
    return $rc
}

if [ -n "${GPU_CHECK_WEIGHTS:-}" ]; then
    W=$GPU_CHECK_WEIGHTS
    step weights "${LIMITS[0]}" 0 "$PY" -c 'import sys; from minivgg.weights import load_weights; load_weights(sys.argv[1]); print("weights", sys.argv[1])' "$W"
else
    W="$TMPD/vgg19_random.npz"
    step weights "${LIMITS[0]}" 0 "$PY" -m minivgg.weights random -o "$W" ${WIDTHS[@]+"${WIDTHS[@]}"}
fi

STEPS=" ${GPU_CHECK_STEPS:-tests compare stylize print bench} "
wanted() { [[ "$STEPS" == *" $1 "* ]]; }

if wanted tests; then
    # shellcheck disable=SC2086  # GPU_CHECK_PYTEST: extra pytest arguments, e.g. "-k cupy" (the GPU's tests only)
    step tests "${LIMITS[1]}" 0 "$PY" -m pytest -q -p no:cacheprovider tests/gpu ${GPU_CHECK_PYTEST:-}
    say "      $(grep -E '[0-9]+ (passed|failed)' "$OUT/tests.log" | tail -1)"
fi

if wanted compare && step compare "${LIMITS[2]}" 1 "$PY" bench/gpu_check.py compare --weights "$W" --size "$COMPARE_SIZE"; then
    tail -n 1 "$OUT/compare.log" > "$OUT/compare.json"
    "$PY" - "$OUT/compare.json" <<'EOF' | tee -a "$SUMMARY"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["relative_difference"]
print(f"      one evaluation at {r['size'][1]}x{r['size'][0]}: {r['gpu_seconds_per_evaluation']:.4f} s on the device, "
      f"{r['cpu_seconds_per_evaluation']:.4f} s on the CPU; device vs CPU: total {d['total']:.1e}, "
      f"content {d['content']:.1e}, style {d['style']:.1e}, gradient {r['gradient_relative_difference']:.1e}")
if "standin_traffic_per_evaluation" in r:
    print(f"      stand-in traffic per evaluation: {r['standin_traffic_per_evaluation']}")
EOF
fi

OPT=${GPU_CHECK_OPTIMIZER:-}
if [ -z "$OPT" ]; then
    if "$PY" -m minivgg.stylize --help 2>/dev/null | grep -q "lbfgs-xp"; then OPT=lbfgs-xp; else OPT=lbfgs; fi
fi
LOG="$OUT/stylize_${SIZE}px.jsonl"
if wanted stylize && step stylize "${LIMITS[3]}" 1 "$PY" -m minivgg.stylize --device gpu --weights "$W" \
        --content examples/chelsea.png --style examples/the_scream.jpg --preset paper \
        --size "$SIZE" --iterations "$ITERS" --optimizer "$OPT" --print-every 50 \
        --log "$LOG" --output "$OUT/stylize_${SIZE}px.png"; then
    "$PY" bench/gpu_check.py timing "$LOG" > "$OUT/stylize_timing.json"
    "$PY" - "$OUT/stylize_timing.json" <<'EOF' | tee -a "$SUMMARY"
import json, sys
r = json.load(open(sys.argv[1]))
later = r["later_iterations"]
print(f"      {r['iterations']} {r['optimizer']} iterations at {r['size']} px: {r['total_seconds']:.2f} s "
      f"(first iteration, with the setup, {r['first_iteration_seconds']:.3f} s; later ones median "
      f"{later['median'] * 1e3:.1f} ms, mean {later['mean'] * 1e3:.1f} ms, max {later['max'] * 1e3:.1f} ms)")
EOF
fi

# print: each "SIZE:MAX_MEMORY:LEVELS:ITERATIONS" a coarse-to-fine run under --max-memory, written as JPEG
if wanted print; then
    k=0
    for spec in $PRINTS; do
        IFS=: read -r psize pmem plevels piters <<< "$spec"
        k=$((k + 1))
        name="print${k}_${psize}px"
        if [[ "$piters" == *,* ]]; then its=(--scale-iterations "$piters"); else its=(--iterations "$piters"); fi
        POLL=""
        if [ "$MODE" = gpu ] && command -v nvidia-smi >/dev/null; then
            nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/$name.gpu_memory" 2>/dev/null &
            POLL=$!
            sleep 0.5
        fi
        step "$name" "${LIMITS[5]}" 1 "$PY" bench/gpu_memory.py --device gpu --weights "$W" \
            --content examples/chelsea.png --style examples/the_scream.jpg --size "$psize" --levels "$plevels" \
            "${its[@]}" --max-memory "$pmem" --optimizer "$OPT" --print-every 10 ${GPU_CHECK_PRINT_ARGS:---balance-size 256} \
            --log "$OUT/$name.jsonl" --output "$OUT/$name.jpg"
        rc=$?
        if [ -n "$POLL" ]; then kill "$POLL" 2>/dev/null; wait "$POLL" 2>/dev/null; fi
        grep -E '^  level|^estimate' "$OUT/$name.log" | sed 's/^/      /' | tee -a "$SUMMARY"
        if [ $rc = 0 ]; then
            "$PY" bench/gpu_check.py timing "$OUT/$name.jsonl" > "$OUT/${name}_timing.json"
            tail -n 1 "$OUT/$name.log" > "$OUT/${name}_pool.json"
            "$PY" - "$OUT/${name}_timing.json" "$OUT/$name.gpu_memory" "$pmem" "$OUT/${name}_pool.json" <<'EOF' | tee -a "$SUMMARY"
import json, os, sys
r = json.load(open(sys.argv[1]))
pool = json.load(open(sys.argv[4]))
line = (f"      {r['iterations']} {r['optimizer']} iterations to {r['size']} px under --max-memory {sys.argv[3]}: "
        f"{r['total_seconds']:.1f} s")
if os.path.exists(sys.argv[2]):
    used = [int(v) for v in open(sys.argv[2]).read().split() if v.isdigit()]
    if used:
        line += (f"; device memory used {max(used) - used[0]} MiB at the peak above the {used[0]} MiB "
                 f"before the run (nvidia-smi, every 0.1 s)")
mib = lambda b: "?" if b is None else f"{b / 2**20:.0f} MiB"
line += (f"; CuPy's pool: peak {mib(pool['pool_peak_used_bytes'])} in use, {mib(pool['pool_peak_held_bytes'])} "
         f"held, limit {mib(pool['pool_limit_bytes'])}; {mib(pool['outside_pool_bytes'])} outside the pool")
print(line)
EOF
        fi
    done
fi

wanted bench && step bench "${LIMITS[4]}" 1 "$PY" bench/bench_vgg.py --device gpu --random-weights "${BENCH[@]}"

say "# done in $(( $(date +%s) - START )) s$([ "$MODE" = standin ] && echo ' (on the stand-in: no GPU was used)')"
exit $FAILED
