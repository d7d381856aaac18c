#!/usr/bin/env bash
# Multi-node data-parallel HeCo training on SLURM: one torchrun per node, one process per GPU.
#   sbatch scripts/slurm_ddp.sh data=openalex data.source=works data.path=/data/works
#SBATCH --job-name=heco-ddp
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
set -euo pipefail

export WANDB_MODE=${WANDB_MODE:-offline}
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
run_dir=${RUN_DIR:-outputs/ddp/${SLURM_JOB_ID}}

# Every rank must agree on the run dir (Hydra's default contains the time of day).
srun .venv/bin/torchrun \
  --nnodes="$SLURM_NNODES" \
  --nproc_per_node="${SLURM_GPUS_PER_NODE:-4}" \
  --rdzv_id="$SLURM_JOB_ID" \
  --rdzv_backend=c10d \
  --rdzv_endpoint="$head_node:29500" \
  -m heco_pyg.train trainer=ddp experiment=minibatch hydra.run.dir="$run_dir" \
  model.sparse_embeddings=false "$@"  # NCCL cannot all-reduce sparse gradients
