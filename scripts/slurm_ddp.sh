#!/usr/bin/env bash
# Multi-node data-parallel HeCo training on SLURM: one torchrun per node, one process per GPU.
#   RUN_DIR=runs/big sbatch scripts/slurm_ddp.sh data=openalex data.source=works data.path=/data/works
# Two minutes before the time limit SLURM sends SIGTERM to torchrun, which forwards it to the
# workers: they finish the current step, save last.pt, the history and the best state's
# embeddings, and exit 143. Submit the same command again (same RUN_DIR) to continue: the
# run resumes from last.pt (trainer.resume=true starts a new run in an empty folder).
#SBATCH --job-name=heco-ddp
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --signal=TERM@120
#SBATCH --requeue
set -euo pipefail

export WANDB_MODE=${WANDB_MODE:-offline}
# The workers' time to save after the signal, before torchrun kills them (default 30 s).
export TORCH_ELASTIC_SHUTDOWN_TIMEOUT=${TORCH_ELASTIC_SHUTDOWN_TIMEOUT:-100}
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
# Every rank must agree on the run dir (Hydra's default contains the time of day), and a
# resubmitted job must find it again.
run_dir=${RUN_DIR:-outputs/ddp/${SLURM_JOB_ID}}

# SLURM_GPUS_PER_NODE is "4" or, with a GPU type, "a100:4".
gpus=${SLURM_GPUS_PER_NODE:-4}

# torchrun's flags as its --help spells them (torch >= 2.4; the underscore forms still work).
srun .venv/bin/torchrun \
  --nnodes="$SLURM_NNODES" \
  --nproc-per-node="${gpus##*:}" \
  --rdzv-id="$SLURM_JOB_ID" \
  --rdzv-backend=c10d \
  --rdzv-endpoint="$head_node:29500" \
  -m heco_pyg.train trainer=ddp experiment=minibatch hydra.run.dir="$run_dir" \
  trainer.resume=true model.sparse_embeddings=false "$@"  # NCCL cannot all-reduce sparse gradients
