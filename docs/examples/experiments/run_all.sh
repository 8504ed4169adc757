#!/bin/sh
# The full experiment of docs/experiments.md: every topology with every model.
# Run from the repository root:  sh docs/examples/experiments/run_all.sh [MODEL ...]
# Outputs: docs/examples/experiments/results/MODEL/GRAPH.{json,csv,png} and GRAPH-grid.png
set -e
T=20
R=8
SEED=2026
DIR=docs/examples/experiments
MODELS=${*:-gaussian gmm kde}
for model in $MODELS; do
  mkdir -p "$DIR/results/$model"
  for graph in self_training chain_from_self cycle_no_real cycle_real star flip_before flip_after demo; do
    if [ "$graph" = demo ]; then file=docs/examples/demo.json; scale=10; else file=$DIR/$graph.json; scale=1; fi
    out=$DIR/results/$model/$graph
    graphcollapse experiment "$file" --model "$model" -T $T -R $R --seed $SEED --sample-scale $scale \
      --json --csv "$out.csv" --plot "$out.png" --samples-grid "$out-grid.png" > "$out.json"
  done
done
