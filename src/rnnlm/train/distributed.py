"""Training on many processes under torchrun: its environment, the process group (NCCL on
GPUs, each rank on cuda:LOCAL_RANK; gloo on CPUs) and the few collectives the trainer needs.

Each rank trains its own block of the --batch-size stream columns (or document rows): the
hidden state stays with its columns and only gradients are averaged, by
DistributedDataParallel. Rank 0 keeps the clock (time budget, logging) and alone writes the
run directory; checkpoints hold every rank's columns, so a run resumes on any number of ranks.
One process is a World of size 1, whose collectives hand back what they are given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import WHOLE, Share
from rnnlm.models.state import State, map_state

TIMEOUT = timedelta(minutes=30)  # a collective whose peers stay away this long fails, not hangs


@dataclass(frozen=True)
class World:
    """This process's place in a run: rank `rank` of `size`, `local_rank` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    host: dist.ProcessGroup | None = None  # gloo, for values on the host (None: the default)

    @property
    def main(self) -> bool:
        """Whether this rank writes the run directory and prints (rank 0)."""
        return self.rank == 0

    def block(self, n: int) -> slice:
        """This rank's contiguous block of n columns (or rows)."""
        return slice(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def place(self, device: torch.device) -> torch.device:
        """The device this rank trains on: its own GPU (cuda:LOCAL_RANK) under torchrun."""
        return torch.device("cuda", self.local_rank) if self.size > 1 and \
            device.type == "cuda" else device

    def check_rows(self, batch_size: int, mode: str) -> None:
        """A one-line error unless the --batch-size columns split evenly over the ranks
        (printed once per node: the other ranks exit with its status, silently)."""
        if batch_size % self.size == 0:
            return
        if self.local_rank:
            raise SystemExit(2)
        what = "stream columns" if mode == "stream" else "document rows"
        divisors = [str(n) for n in range(1, batch_size + 1) if batch_size % n == 0]
        fits = " or ".join([", ".join(divisors[:-1]), divisors[-1]] if len(divisors) > 1
                           else divisors)
        if self.size > batch_size:
            raise RnnlmError(f"torchrun started {self.size} processes, more than the "
                             f"{batch_size} {what} of --batch-size {batch_size} (each process "
                             f"trains its own); give --batch-size {self.size} (or a multiple), "
                             f"or start {fits} processes")
        multiple = -(-batch_size // self.size) * self.size
        raise RnnlmError(f"--batch-size {batch_size} does not split evenly over {self.size} "
                         f"processes (each trains its own block of the {what}); give "
                         f"--batch-size {multiple}, or start {fits} processes")

    def wrap(self, model: nn.Module) -> nn.Module:
        """What the training step calls: the model, or DDP averaging its gradients."""
        if self.size == 1:
            return model
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def seed(self, seed: int, step: int = 0) -> None:
        """Ranks other than 0 draw their own dropout masks (rank 0 keeps the run's stream)."""
        if self.rank:
            torch.manual_seed(int(np.random.SeedSequence([seed, self.rank, step])
                                  .generate_state(1)[0]))

    def clock(self, elapsed: float, due: bool) -> tuple[float, bool]:
        """Rank 0's elapsed seconds and whether a log line is due, on every rank, so that the
        time budget, a time-based lr schedule and the logged steps agree across ranks."""
        if self.size == 1:
            return elapsed, due
        sent = torch.tensor([elapsed, float(due)], dtype=torch.float64)
        dist.broadcast(sent, src=0, group=self.host)
        return float(sent[0]), bool(sent[1])

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the ranks."""
        if self.size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value)
        return value / self.size

    def share(self) -> Share:
        """This rank's part of a validation pass, whose per-unit totals add over the ranks."""
        return Share(self.rank, self.size, self._sum_on_host) if self.size > 1 else WHOLE

    def _sum_on_host(self, totals: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(totals, group=self.host)  # each unit is nonzero on one rank: exact
        return totals

    def gather_columns(self, state: State | None) -> State | None:
        """Every rank's columns of a state (batch on dim 1), in rank order: all of them."""
        if self.size == 1 or state is None:
            return state

        def gather(h: torch.Tensor) -> torch.Tensor:
            h = (h.float() if h.is_floating_point() else h).contiguous()  # (L, B/size, H)
            out = [torch.empty_like(h) for _ in range(self.size)]
            dist.all_gather(out, h)
            return torch.cat(out, dim=1)  # (L, B, H)

        return map_state(gather, state)

    def own_columns(self, state: State | None) -> State | None:
        """This rank's block of a state that holds every column (batch on dim 1)."""
        if self.size == 1 or state is None:
            return state
        return map_state(lambda h: h[:, self.block(h.shape[1])].contiguous(), state)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's value (picklable; on the host), in rank order."""
        if self.size == 1:
            return [value]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value, group=self.host)
        return out

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value (picklable), on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.host)
        return box[0]

    def rng_tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Every rank's RNG states for a checkpoint: rng.cpu (rank 0), rng.cpu.1, ..."""
        own = {"cpu": torch.get_rng_state()}
        if device.type == "cuda":
            own["cuda"] = torch.cuda.get_rng_state(device)
        return {f"rng.{kind}{f'.{rank}' if rank else ''}": state
                for rank, states in enumerate(self.gather(own)) for kind, state in states.items()}

    def restore_rng(self, tensors: dict[str, torch.Tensor], device: torch.device, seed: int,
                    step: int) -> None:
        """This rank's RNG states from a checkpoint; a rank it lacks (a run resumed on more
        ranks) draws a fresh stream from (seed, rank, step)."""
        suffix = f".{self.rank}" if self.rank else ""
        if f"rng.cpu{suffix}" not in tensors:
            self.seed(seed, step)
            return
        torch.set_rng_state(tensors[f"rng.cpu{suffix}"])
        if device.type == "cuda" and f"rng.cuda{suffix}" in tensors:
            torch.cuda.set_rng_state(tensors[f"rng.cuda{suffix}"], device)

    def close(self, finished: bool) -> None:
        """Leave the process group; a finished job first waits for every rank, so that no rank
        tears its group down while a peer still talks to it (gloo aborts the peer then). A
        failed one does not wait: a lost peer would never arrive."""
        if self.size > 1 and dist.is_initialized():
            if finished:
                dist.barrier()
            dist.destroy_process_group()


ALONE = World()  # one process, no torchrun


def join(device: torch.device) -> World:
    """The World that torchrun started this process in (RANK, WORLD_SIZE, LOCAL_RANK), its
    process group joined; a World of one outside torchrun (or with one process)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return ALONE
    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        if local >= gpus:
            raise RnnlmError(f"rank {rank} is process {local} on its node, which has {gpus} "
                             f"GPU(s); start at most {gpus} processes per node "
                             f"(--nproc_per_node {gpus})")
        own = torch.device("cuda", local)
        torch.cuda.set_device(own)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=own)
        return World(rank, size, local, dist.new_group(backend="gloo", timeout=TIMEOUT))
    if device.type != "cpu":
        raise RnnlmError(f"torchrun training runs on CPUs (gloo) or CUDA GPUs (NCCL), not "
                         f"{device.type}; give --device cpu or cuda")
    dist.init_process_group("gloo", timeout=TIMEOUT)
    return World(rank, size, local)


def is_lost_rank(err: Exception) -> bool:
    """Whether an error says that another rank has gone: torch's DistError, or the
    RuntimeError that gloo's transport raises inside DDP's backward."""
    return isinstance(err, dist.DistError) or "gloo/transport" in str(err)


def lost_rank(world: World, step: int, err: Exception, run_dir: Path | None) -> RnnlmError:
    """The one-line error of a rank whose peer stopped (killed, or failed with its own error)."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
    resume = f"continue from the last checkpoint with torchrun ... -m rnnlm train --resume " \
             f"{run_dir}" if run_dir else "start it again"
    return RnnlmError(f"rank {world.rank} of {world.size}: another rank stopped during step "
                      f"{step + 1} ({first}); the job ends here (the failed rank's own error, "
                      f"if any, is above); {resume}")
