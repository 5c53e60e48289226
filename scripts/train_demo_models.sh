#!/usr/bin/env bash
# Re-create the shipped demonstration checkpoints on a CPU (one command):
#   bash scripts/train_demo_models.sh [MINUTES_PER_MODEL]
# 1. simulates the training tree (`cardiomm simulate mini data/mini_small --size small --seed 0`, ~1.5 GB);
# 2. trains CardioMM, the PromptMR-style variant and E2E-VarNet (`small` presets, configs/*_cpu.yaml)
#    for MINUTES_PER_MODEL minutes each (default: the configs' 45 min);
# 3. copies each release (safetensors + config.json + model_card.md) to src/cardiomm/assets/checkpoints/.
set -euo pipefail
cd "$(dirname "$0")/.."
CARDIOMM=${CARDIOMM:-.venv/bin/cardiomm}
DATA=data/mini_small
[ -f "$DATA/manifest.json" ] || "$CARDIOMM" simulate mini "$DATA" --size small --seed 0
limit=()
if [ $# -ge 1 ]; then limit=(--set "trainer.max_time=\"00:00:$1:00\""); fi
for pair in "cardiomm:small_cpu" "promptmr:promptmr_small_cpu" "varnet:varnet_small_cpu"; do
  method=${pair%%:*}; cfg=${pair##*:}
  "$CARDIOMM" train --config "configs/$cfg.yaml" --set data.data="$DATA" --set run.progress_bar=false "${limit[@]}"
  mkdir -p "src/cardiomm/assets/checkpoints/$method"
  cp "runs/$cfg/release/"* "src/cardiomm/assets/checkpoints/$method/"
done
