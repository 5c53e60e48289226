#!/usr/bin/env bash
# Re-create the shipped checkpoints on a CPU (one command; needs ../shared/data for the real anatomy):
#   bash scripts/train_demo_models.sh [STAGE1_MINUTES [STAGE2_MINUTES [STAGE3_MINUTES [STAGE4_MINUTES [STAGE5_MINUTES [STAGE6_MINUTES [STAGE7_MINUTES]]]]]]]
# Stage 1 (phantom world): `cardiomm simulate mini --size small` (~1.5 GB, ~30 s); CardioMM, the
#   PromptMR-style twin and E2E-VarNet (`small` presets, configs/*small_cpu.yaml) train side by side for
#   STAGE1_MINUTES (default: the configs' 45 min).
# Stage 2 (real anatomy): the ACDC HDF5 files become NIfTI (scripts/acdc_to_nifti.py), then
#   `cardiomm simulate real-anatomy` writes the training and validation patients of
#   configs/splits/real_anatomy.json over five synthetic centers (~6.5 GB, ~5 min; the test split is
#   never written); each model is fine-tuned from its stage-1 release on real anatomy + the simulator
#   (configs/*_real_cpu.yaml, balanced over centers) for STAGE2_MINUTES (default: the configs' 65 min),
#   the three side by side (one intra-op thread each; ~16 GB of memory together).
# Stage 3 (longer, with single-coil frames): each model continues from its stage-2 release on the same
#   mix with lr 2.5e-4 (halved per epoch) and 15 % of the training frames compressed to one SVD virtual
#   coil (data.single_coil_fraction: single-coil scans such as the CMRxRecon single-coil set), for
#   STAGE3_MINUTES (default 95), the three side by side again.
# Stage 4 (realistic noise): the real-anatomy corpus is written again with the SNR calibrated on real
#   scanner data (object-mean SNR 42 at 3 T, the source images' own noise counted towards it; see
#   docs/real_anatomy.md) and a per-scan SNR spread of 2 (data/real_train4); each model continues from
#   its stage-3 release on it + the simulator with the stage-3 settings for STAGE4_MINUTES (default 75).
#   (The shipped stages 2-3 ran on the corpus of the simulator before that recalibration, commit fa87ac0:
#   SNR 20 at 1.5 T on top of the source noise; a re-run now uses the new corpus for every stage.)
# Stage 5 (longer): each model continues from its stage-4 release on the same data and settings with lr
#   1.25e-4 (where stage 4's halving had brought it) for STAGE5_MINUTES (default 70), side by side.
# Stage 6 (a loss that weighs intensities too): each model continues from its stage-5 release on the same
#   data and settings with the loss `ssim+l1` (0.84 (1 - SSIM) + 0.16 L1, Zhao et al., IEEE TCI 2017) for
#   STAGE6_MINUTES (default 50), side by side.
# Stage 7 (a trained SENSE output layer): each model continues from its stage-6 release with
#   model.model_overrides.output_dc=sense (the proximal SENSE data-consistency step of MoDL with the
#   network's own coil maps and a learned weight, 10 CG iterations, trained end to end; docs/models.md)
#   on the same data and settings for STAGE7_MINUTES (default 60), side by side.
# Finally each stage-7 release (safetensors + config.json + model_card.md) is copied to
# src/cardiomm/assets/checkpoints/. Licence: the ACDC images are CC BY-NC-SA 4.0, so the weights are for
# non-commercial research use.
set -euo pipefail
cd "$(dirname "$0")/.."
CARDIOMM=${CARDIOMM:-.venv/bin/cardiomm}
PYTHON=${PYTHON:-.venv/bin/python}
SHARED=${CARDIOMM_SHARED_DATA:-../shared/data}
SIM=data/mini_small
REAL=data/real_train
[ -f "$SIM/manifest.json" ] || "$CARDIOMM" simulate mini "$SIM" --size small --seed 0
[ -d data/acdc_nifti ] || "$PYTHON" scripts/acdc_to_nifti.py "$SHARED/acdc" data/acdc_nifti
[ -f "$REAL/manifest.json" ] || "$CARDIOMM" simulate real-anatomy data/acdc_nifti --out "$REAL" \
  --split configs/splits/real_anatomy.json --role train --role val --seed 0
REAL4=data/real_train4
[ -f "$REAL4/manifest.json" ] || "$CARDIOMM" simulate real-anatomy data/acdc_nifti --out "$REAL4" \
  --split configs/splits/real_anatomy.json --role train --role val --seed 0 --snr-spread 2

hhmm() { printf '00:%02d:%02d:00' $(($1 / 60)) $(($1 % 60)); }
stage1=(); stage2=(); stage3_minutes=${3:-95}; stage4_minutes=${4:-75}; stage5_minutes=${5:-70}; stage6_minutes=${6:-50}; stage7_minutes=${7:-60}
if [ $# -ge 1 ]; then stage1=(--set "trainer.max_time=\"00:00:$1:00\""); fi
if [ $# -ge 2 ]; then stage2=(--set "trainer.max_time=\"00:00:$2:00\""); fi
stage3=(--set model.lr=2.5e-4 --set data.single_coil_fraction=0.15
  --set "trainer.max_time=\"$(hhmm "$stage3_minutes")\"")
mkdir -p runs; pids=()
for cfg in small_cpu promptmr_small_cpu varnet_small_cpu; do
  "$CARDIOMM" train --config "configs/$cfg.yaml" --set data.data="$SIM" --set run.threads=1 \
    --set run.progress_bar=false "${stage1[@]}" > "runs/$cfg.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
mkdir -p runs; pids=()
for pair in "cardiomm:small_cpu" "promptmr:promptmr_small_cpu" "varnet:varnet_small_cpu"; do
  method=${pair%%:*}; first=${pair##*:}
  "$CARDIOMM" train --config "configs/${method}_real_cpu.yaml" --set run.init_from="runs/$first/release" \
    --set run.progress_bar=false "${stage2[@]}" > "runs/${method}_real_cpu.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
# run_stage FROM TO ARGS...: the three models side by side, each from runs/<method>_FROM/release into
# runs/<method>_TO (log: runs/<method>_TO.log), with the extra `cardiomm train` arguments ARGS.
run_stage() {
  local from=$1 to=$2 method
  shift 2
  local stage_pids=()
  for method in cardiomm promptmr varnet; do
    "$CARDIOMM" train --config "configs/${method}_real_cpu.yaml" --set run.init_from="runs/${method}_${from}/release" \
      --set run.output_dir="runs/${method}_${to}" --set run.progress_bar=false "$@" > "runs/${method}_${to}.log" 2>&1 &
    stage_pids+=($!)
  done
  for pid in "${stage_pids[@]}"; do wait "$pid"; done
}
run_stage real_cpu real3_cpu "${stage3[@]}"
run_stage real3_cpu real4_cpu --set "data.data=[$REAL4, $SIM]" "${stage3[@]}" \
  --set "trainer.max_time=\"$(hhmm "$stage4_minutes")\""
run_stage real4_cpu real5_cpu --set "data.data=[$REAL4, $SIM]" "${stage3[@]}" --set model.lr=1.25e-4 \
  --set "trainer.max_time=\"$(hhmm "$stage5_minutes")\""
run_stage real5_cpu real6_cpu --set "data.data=[$REAL4, $SIM]" "${stage3[@]}" --set model.lr=1.25e-4 \
  --set 'model.loss="ssim+l1"' --set "trainer.max_time=\"$(hhmm "$stage6_minutes")\""
run_stage real6_cpu real7_cpu --set "data.data=[$REAL4, $SIM]" "${stage3[@]}" --set model.lr=1.25e-4 \
  --set 'model.loss="ssim+l1"' --set model.model_overrides.output_dc=sense \
  --set "trainer.max_time=\"$(hhmm "$stage7_minutes")\""
for method in cardiomm promptmr varnet; do
  mkdir -p "src/cardiomm/assets/checkpoints/$method"
  cp "runs/${method}_real7_cpu/release/"* "src/cardiomm/assets/checkpoints/$method/"
done
