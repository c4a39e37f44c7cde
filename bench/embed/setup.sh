#!/bin/sh
# bench/embed/setup.sh — prepare everything bench/embed/run.sh needs. Idempotent: a second
# run only re-checks (sha256 of the weights, ORT package version) and returns.
#
#   sh bench/embed/setup.sh            (from anywhere; paths are relative to the repo root)
#
# Environment:
#   QUIRE_SHARED   the shared data folder (default: ../shared relative to the repo root)
#
# Network: only Debian's apt (python3-numpy, python3-torch, python3-onnx) and the npm
# registry (onnxruntime-node@1.30.0). Needs root for apt-get on Debian 12.
#
# Produces (all under build/, which git ignores):
#   build/models/minilm/        the all-MiniLM-L6-v2-shaped random model (HF folder)
#   build/models/minilm.onnx    the same model exported with torch.onnx (opset 17)
#   build/models/minilm-int8.onnx  its MatMuls quantized as ORT's quantize_dynamic does
#   build/ort/node_modules/onnxruntime-node   ORT 1.30.0 (libonnxruntime.so.1 + node binding)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
QUIRE_SHARED=${QUIRE_SHARED:-../shared}
shared=$(cd "$QUIRE_SHARED" && pwd) || { echo "setup: QUIRE_SHARED=$QUIRE_SHARED not found" >&2; exit 1; }

MODEL_DIR=build/models/minilm
ONNX=build/models/minilm.onnx
ORT_DIR=build/ort
ORT_VERSION=1.30.0
SHA=756f31d1a8a9211da519ba9ee634f417bb2e22fd216a1515583873a63bf99f2a
PY=/usr/bin/python3

log() { echo "setup: $*" >&2; }

# ---- Debian packages --------------------------------------------------------------------
need_pkgs=""
for p in python3-numpy python3-torch python3-onnx; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"install ok installed"*) ;; *) need_pkgs="$need_pkgs $p" ;; esac
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    need_pkgs="$need_pkgs nodejs npm"
fi
if [ -n "$need_pkgs" ]; then
    if [ "$(id -u)" != 0 ]; then
        log "missing Debian packages:$need_pkgs (run as root, or install them)"; exit 1
    fi
    log "apt-get install$need_pkgs (python3-torch is large; this takes a while)"
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null
fi

# ---- the model (bit-identical regeneration) ---------------------------------------------
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$MODEL_DIR/model.safetensors" ] && [ -f "$MODEL_DIR/vocab.txt" ] &&
   [ "$(sha_of "$MODEL_DIR/model.safetensors")" = "$SHA" ]; then
    :
else
    log "generating $MODEL_DIR"
    rm -rf "$MODEL_DIR.tmp"
    mkdir -p build/models
    "$PY" "$shared/models/ref/gen_weights.py" minilm "$MODEL_DIR.tmp" >&2
    rm -rf "$MODEL_DIR"
    mv "$MODEL_DIR.tmp" "$MODEL_DIR"
    rm -f "$ONNX"
fi
got=$(sha_of "$MODEL_DIR/model.safetensors")
if [ "$got" != "$SHA" ]; then
    log "sha256 mismatch for $MODEL_DIR/model.safetensors: $got (expected $SHA)"; exit 1
fi
[ -f "$MODEL_DIR/vocab.txt" ] || { log "$MODEL_DIR/vocab.txt missing"; exit 1; }

# ---- ONNX export --------------------------------------------------------------------------
# (the weights are bit-identical whenever they pass the sha256 check, and a regeneration above
# removes the old export, so an existing non-empty file is current)
if [ ! -s "$ONNX" ]; then
    log "exporting $ONNX (torch import takes a while)"
    "$PY" "$shared/models/ref/export_onnx.py" "$MODEL_DIR" "$ONNX.tmp" >&2
    mv "$ONNX.tmp" "$ONNX"
fi

# ---- the int8 ONNX peer (ORT's dynamic quantization pattern, bench/embed/quantize_onnx.py) --
ONNX8=build/models/minilm-int8.onnx
if [ ! -s "$ONNX8" ] || [ "$ONNX" -nt "$ONNX8" ]; then
    log "quantizing $ONNX8"
    "$PY" "$here/quantize_onnx.py" "$ONNX" "$ONNX8.tmp" >&2
    mv "$ONNX8.tmp" "$ONNX8"
fi

# ---- ONNX Runtime from npm ----------------------------------------------------------------
ORT_PKG=$ORT_DIR/node_modules/onnxruntime-node
ORT_LIB=$ORT_PKG/bin/napi-v6/linux/x64/libonnxruntime.so.1
have=$(node -e 'try{console.log(require(process.argv[1]).version)}catch(e){console.log("")}' \
       "$repo/$ORT_PKG/package.json")
if [ "$have" != "$ORT_VERSION" ] || [ ! -f "$ORT_LIB" ]; then
    log "npm install onnxruntime-node@$ORT_VERSION into $ORT_DIR"
    mkdir -p "$ORT_DIR"
    # --ignore-scripts: the postinstall script would try to download; the package already
    # contains libonnxruntime.so.1 and the node binding.
    npm install --ignore-scripts --no-audit --no-fund --prefix "$ORT_DIR" \
        "onnxruntime-node@$ORT_VERSION" >&2
fi
[ -f "$ORT_LIB" ] || { log "$ORT_LIB missing after npm install"; exit 1; }

log "ok: $MODEL_DIR (sha256 $SHA), $ONNX, $ONNX8, onnxruntime-node $ORT_VERSION"
