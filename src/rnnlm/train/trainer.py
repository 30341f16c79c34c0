"""`rnnlm train`: truncated-BPTT training of a language model with periodic full-pass
validation, samples, TensorBoard logs and exactly resumable checkpoints (the run's starting
point is train/setup.py; this module is the loop and its checkpoints). Under torchrun the
same loop runs on every rank (train/distributed.py)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from rnnlm.checkpoint import SOURCE_TOKENIZER, TRAINER, load_tensors, read_state, save_checkpoint
from rnnlm.config import RunConfig
from rnnlm.data.buckets import DocumentBatches, merge_carried
from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import Sampling
from rnnlm.inference.scoring import LN2
from rnnlm.language_model import LanguageModel
from rnnlm.models.awd import forward_with_penalty
from rnnlm.models.state import State, lm_loss, map_state, state_from_tensors, state_tensors
from rnnlm.runtime import autocast, memory_guard, pick_device
from rnnlm.tokenizers import save_tokenizer
from rnnlm.train import distributed
from rnnlm.train.averaging import Averaging
from rnnlm.train.distributed import ALONE, World
from rnnlm.train.graphs import GraphedStep, can_graph
from rnnlm.train.optim import (
    ClippedUpdate,
    build_optimizer,
    load_optimizer_state,
    optimizer_state,
)
from rnnlm.train.progress import Progress, fmt_duration
from rnnlm.train.rundir import place_run, run_config
from rnnlm.train.runlog import RunLog
from rnnlm.train.schedules import Schedule
from rnnlm.train.setup import Start, prepare

LOG_EVERY_S = 1.0  # how often the bar (and the loss read-back from the device) refreshes


class Trainer:
    """Owns the model, optimizer, data position and run directory of one training run (of
    this rank's share of it, under torchrun)."""

    source_tokenizer = None  # an encoder–decoder's source side, where it has its own

    def __init__(self, config: RunConfig, run_dir: Path, resuming: bool,
                 restart_schedule: bool = False, world: World = ALONE) -> None:
        start = self.prepare(config, run_dir, resuming, world)
        self.world = world
        self.config, self.run_dir, self.device = start.config, run_dir, start.device
        self.tokenizer, self.model, self.batches = start.tokenizer, start.model, start.batches
        self.val, self.split = start.val, start.split
        t, d = self.config.train, self.config.data
        self.precision = t.precision
        self.optimizer = build_optimizer(self.model, t, self.device)
        self.update = ClippedUpdate(self.optimizer, t.clip)
        self.schedule = Schedule(t)
        self.averaging = Averaging(self.model, t.nonmono if t.optimizer == "ntasgd" else None)
        self.hidden: State | None = None
        self.step, self.elapsed, self.tokens_seen = 0, 0.0, 0
        self.best: dict[str, float] = {}  # validation scores of best/
        self.last_val: dict[str, float] = {}
        self.decay_began = False  # the last validation started the early decay
        self.trained_on = world.size  # how many processes wrote the checkpoint resumed from
        world.seed(t.seed)
        if resuming:
            self.restore(run_dir / "last")
        if restart_schedule:
            self.schedule.restart(self.step, self.elapsed, t)
        self.graphed = GraphedStep(self.model, self.optimizer, self.update.clip,
                                   self.precision, d.batch_size, d.seq_len, self.device,
                                   self.hidden) \
            if t.cuda_graph and world.size == 1 and t.optimizer != "ntasgd" \
            and can_graph(self.model, self.device, d.mode == "stream" and not d.variable_bptt) \
            else None  # fixed shapes; NT-ASGD's plain SGD step is not captured
        self.net = world.wrap(self.model)  # what a training step calls: DDP under torchrun
        self.lm = LanguageModel(self.model, self.tokenizer, self.config, self.device,
                                self.precision) \
            if not (self.config.pairs or self.config.captions) else None

    def prepare(self, config: RunConfig, run_dir: Path, resuming: bool, world: World) -> Start:
        """The run's starting point (train/setup.py; train/pairs.py for an encoder–decoder)."""
        return prepare(config, run_dir, resuming, world)

    # -- checkpoints -------------------------------------------------------------------------

    def restore(self, ckpt: Path) -> None:
        """Continue where `ckpt` left off: optimizer, schedule, RNG, data (weights: __init__)."""
        state = read_state(ckpt)
        tensors = load_tensors(ckpt / TRAINER)
        load_optimizer_state(self.optimizer, {k: v.to(self.device) for k, v in tensors.items()
                                              if k.startswith("optim.")}, state["optimizer"])
        self.schedule.load_state_dict(state["schedule"], run_config(ckpt).train)
        self.world.restore_rng(tensors, self.device, self.config.train.seed, state["step"])
        self.hidden = self.world.own_columns(state_from_tensors(tensors, self.device))
        self.batches.seek(**state["position"])
        self.averaging.load(state.get("averaging"), tensors)
        if isinstance(self.batches, DocumentBatches):
            self.batches.load_carried(tensors)
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.tokens_seen, self.best = state["tokens_seen"], state["best"]
        self.last_val, self.trained_on = state["val"], state.get("world_size", 1)

    def save(self, which: str, val: dict[str, float]) -> None:
        """Write last/ (everything needed to resume) or best/ (weights only); every rank
        calls it (last/ gathers every rank's columns and RNG), rank 0 writes."""
        state = {"step": self.step, "elapsed": self.elapsed, "tokens_seen": self.tokens_seen,
                 "best": self.best, "val": val, "world_size": self.world.size}
        tensors = None
        if which == "last":
            tensors, meta = optimizer_state(self.optimizer)
            raw, averaging = self.averaging.state()
            carried = merge_carried(self.world.gather(self.batches.carried_tensors())) \
                if isinstance(self.batches, DocumentBatches) else {}
            tensors = {**tensors, **state_tensors(self.world.gather_columns(self.hidden)),
                       **carried, **raw, **self.world.rng_tensors(self.device)}
            state.update(optimizer=meta, schedule=self.schedule.state_dict(),
                         position=self.batches.position(), averaging=averaging)
        if self.world.main:
            with self.averaging.swapped():  # NT-ASGD's average, once it began
                save_checkpoint(self.run_dir / which, self.model, self.config, self.tokenizer,
                                state, tensors, self.source_tokenizer)

    # -- training ----------------------------------------------------------------------------

    def lr(self) -> float:
        """The learning rate of the next step."""
        return self.config.train.lr * self.schedule.factor(self.step, self.elapsed)

    def optimize(self, lr: float, loss: torch.Tensor, nats: torch.Tensor, tokens: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step at lr on a loss summed over a batch's `tokens` real target tokens
        (the encoder–decoders' steps): (nats per real token, the gradient norm)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.update.zero_grad()
        (loss / tokens).backward()
        grad_norm = self.update()
        self.step += 1
        self.tokens_seen += tokens
        return (nats / tokens).detach(), grad_norm.detach()

    def train_step(self, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on the next window or document batch; returns (loss in nats per
        real token, gradient norm)."""
        if self.graphed is not None:  # the same step, replayed as one CUDA graph (one rank)
            x, y, epoch_start = self.batches.next()  # (B, T) each
            loss, grad_norm = self.graphed(x, y, lr, epoch_start)
            self.hidden = self.graphed.state
            self.step += 1
            self.tokens_seen += y.numel()
            return loss, grad_norm
        scale = 1.0
        if isinstance(self.batches, DocumentBatches):
            batch, _ = self.batches.next()
            x, y = batch.inputs, batch.targets  # (B, T) each, y padded with IGNORE
            lengths = batch.lengths if self.config.data.pack else None
            carry = self.model.trains_with_carried_state  # pieces of a --chunk document
            state = self.batches.initial_state(batch) if carry else None
            with autocast(self.device, self.precision):  # penalty: AR/TAR, or 0.0
                logits, final, penalty = forward_with_penalty(self.net, self.model.cfg, x,
                                                              state, lengths, y)
            if carry:
                self.batches.keep(batch, final)
            tokens = batch.tokens  # of every rank's rows: ranks hold different numbers
            # this rank's share of the batch's mean nats per token, × ranks: DDP's mean of the
            # ranks' gradients is then the whole batch's
            loss = lm_loss(logits, y, reduction="sum") * (self.world.size / tokens)
        else:
            x, y, epoch_start = self.batches.next()  # (B/ranks, T) each; T drawn: --variable-bptt
            scale = x.shape[1] / self.config.data.seq_len  # AWD-LSTM: short window, short step
            if epoch_start:
                self.hidden = None
            with autocast(self.device, self.precision):
                logits, hidden, penalty = forward_with_penalty(
                    self.net, self.model.cfg, x, self.hidden, None, y)  # (B/ranks, T, V)
            if self.model.trains_with_carried_state:  # the transformer: independent windows
                self.hidden = map_state(torch.Tensor.detach, hidden)  # the state, not graph
            tokens = y.numel() * self.world.size
            loss = lm_loss(logits, y)  # nats per token: every rank has as many tokens
        for group in self.optimizer.param_groups:
            group["lr"] = lr * scale
        self.update.zero_grad()
        (loss + penalty).backward()  # the loss reported stays the cross-entropy alone
        grad_norm = self.update()  # clipped to config.train.clip, then the optimizer's step
        self.step += 1
        self.tokens_seen += tokens
        return loss.detach(), grad_norm.detach()

    def validate(self, log: RunLog | None, bar: Progress | None) -> dict[str, float]:
        """Full pass over the validation split (each rank scores its share; the sums are the
        whole pass's); rank 0 reports it, then saves best/ on improvement and last/ always:
        after the report is flushed, so a resume, which drops what lies past its checkpoint,
        never loses nor repeats a logged step after a kill -9."""
        # exactly what `rnnlm eval --split val` computes
        result = self.lm.score_prepared(self.val, share=self.world.share())
        val = {"val_nats_per_token": result.nats_per_token,
               "val_bits_per_char": result.bits_per_char, "val_characters": result.characters}
        improved = val["val_nats_per_token"] < self.best.get("val_nats_per_token", math.inf)
        began = self.averaging.observe(val["val_nats_per_token"], self.step)
        if log is not None and bar is not None:
            if began:
                log.log(self.step, averaging_from=self.step)
                bar.write(f"step {self.step:>6} | {self.averaging.news()}")
            self.report(val, improved, log, bar)
        return self.keep(val, improved)

    def evaluate(self, log: RunLog | None, bar: Progress | None) -> dict[str, float]:
        """validate: NT-ASGD's average once it began, else the weights as trained."""
        with self.averaging.swapped():
            val = self.validate(log, bar)
        if self.decay_began and log is not None and bar is not None:
            log.log(self.step, early_decay_from=self.step)
            bar.write(f"step {self.step:>6} | {self.schedule.news()}")
        return val

    def keep(self, val: dict[str, float], improved: bool) -> dict[str, float]:
        """After a validation is reported: best/ if it improved, then last/ always."""
        self.decay_began = self.lm is not None and self.schedule.observe(
            val["val_nats_per_token"], self.step, self.elapsed)  # language models only
        if improved:
            self.best = val
            self.save("best", val)
        self.save("last", val)
        self.last_val = val
        return val

    def report(self, val: dict[str, float], improved: bool, log: RunLog, bar: Progress) -> None:
        """Log and print a validation, and a sample when --sample-length asks for one."""
        bar.val_bpc = val["val_bits_per_char"]
        log.log(self.step, elapsed=self.elapsed, **val)
        bar.write(f"step {self.step:>6} | {fmt_duration(self.elapsed):>8} | val "
                  f"{val['val_bits_per_char']:.4f} bits/char{' (best)' if improved else ''}")
        length = self.config.train.sample_length
        if length:
            self.write_sample(log, bar, self.lm.sample(
                length=length, sampling=Sampling(temperature=0.8), seed=self.step)[0].strip())
        log.flush()

    def write_sample(self, log: RunLog, bar: Progress, text: str) -> None:
        """A validation's sample, in samples.txt and under the progress bar."""
        log.sample(self.step, text)
        bar.write("  " + text.replace("\n", "\n  "))

    def finished(self) -> bool:
        """Whether the step or time budget is spent."""
        t = self.config.train
        return bool((t.max_steps and self.step >= t.max_steps)
                    or (t.max_time and self.elapsed >= t.max_time)
                    or self.schedule.done(self.step))

    def run(self) -> dict[str, float]:
        """Train until the budget is spent (or Ctrl-C); return the last validation scores.
        Every rank runs it and takes the same steps; rank 0 alone logs."""
        t = self.config.train
        if self.schedule.done(self.step):
            raise RnnlmError(f"{self.run_dir} ended at step {self.step} when validation "
                             f"stopped improving (--overfit-decay); --restart-schedule with a "
                             f"larger --max-steps or --max-time starts a new cycle")
        if self.finished():
            raise RnnlmError(f"{self.run_dir} already used its budget (step {self.step}, "
                             f"{fmt_duration(self.elapsed)}); give a larger --max-steps or "
                             f"--max-time to train longer")
        main = self.world.main
        log = RunLog(self.run_dir, resume_step=self.step) if main else None
        bar = Progress(t.max_steps, t.max_time, self.step, self.elapsed) if main else None
        start, start_elapsed = time.perf_counter(), self.elapsed
        mark_time, mark_tokens, mark_step = start, self.tokens_seen, self.step
        loss_sum = torch.zeros((), device=self.device)
        guard = memory_guard()
        evaluated_at = self.step
        try:
            while not self.finished():
                lr = self.lr()
                loss, grad_norm = self.train_step(lr)
                self.averaging.update()  # NT-ASGD: the step's weights join the average
                guard.check()  # batches of changing shapes leave freed blocks behind
                loss_sum += loss
                now = time.perf_counter()
                # rank 0's clock on every rank: the same lr, log steps and time-budget stop
                self.elapsed, due = self.world.clock(start_elapsed + now - start,
                                                     now - mark_time >= LOG_EVERY_S)
                if due or self.finished() or self.step % t.eval_every == 0:
                    mean = float(self.world.mean(loss_sum)) / (self.step - mark_step)
                    speed = (self.tokens_seen - mark_tokens) / (now - mark_time)
                    if log is not None and bar is not None:
                        log.log(self.step, elapsed=self.elapsed, train_nats_per_token=mean,
                                lr=lr, grad_norm=float(grad_norm), tokens_per_s=speed)
                        bar.update(self.step, self.elapsed, mean / LN2, speed, lr)
                    mark_time, mark_tokens, mark_step = now, self.tokens_seen, self.step
                    loss_sum.zero_()
                if self.step % t.eval_every == 0:
                    self.evaluate(log, bar)
                    evaluated_at = self.step
            if evaluated_at != self.step:
                self.evaluate(log, bar)
        except KeyboardInterrupt:
            self.interrupted(bar)
            raise
        finally:
            if log is not None and bar is not None:
                bar.close()
                log.close()
        return self.last_val

    def summary(self) -> str:
        """The best validation score and what to do next, for the last line of a run."""
        return (f"best val {self.best['val_bits_per_char']:.4f} bits/char (full pass over "
                f"{self.best['val_characters']:,} characters); sample with: "
                f"rnnlm sample {self.run_dir}")

    def interrupted(self, bar: Progress | None) -> None:
        """Ctrl-C: one process saves last/ where it stopped; ranks of a torchrun job keep
        the last checkpoint (they may stop at different steps)."""
        if self.world.size == 1:
            self.save("last", self.last_val)
        if bar is not None:
            bar.close()
            print(f"\ninterrupted at step {self.step}; resume with: "
                  + (f"rnnlm train --resume {self.run_dir}" if self.world.size == 1 else
                     f"torchrun ... -m rnnlm train --resume {self.run_dir} (from its last "
                     f"checkpoint)"))


def announce(trainer: Trainer, resuming: bool, restart_schedule: bool) -> None:
    """Write the run's config and tokenizer, and print what it is about to train."""
    run_dir, world = trainer.run_dir, trainer.world
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer.config.save(run_dir / "config.json")
    save_tokenizer(trainer.tokenizer, run_dir / "tokenizer.json")
    if trainer.source_tokenizer is not None:
        save_tokenizer(trainer.source_tokenizer, run_dir / SOURCE_TOKENIZER)
    m = trainer.config.model
    ranks = f" × {world.size} processes" if world.size > 1 else ""
    print(f"run {run_dir}: {m.layers}×{m.hidden} {m.cell} "
          f"({trainer.model.num_parameters() / 1e6:.2f}M parameters), vocab "
          f"{m.vocab_size}, {trainer.device} {trainer.precision}{ranks}, "
          + (f"resuming at step {trainer.step}" if resuming else "starting"))
    began = trainer.averaging.began
    print(f"data: {trainer.split}\nlr schedule: {trainer.schedule.describe()}"
          + (f"; NT-ASGD has averaged the weights since step {began}" if began is not None
             else "")
          + ("; resuming keeps it (--restart-schedule starts a new cycle over the budget "
             "added)" if resuming and not restart_schedule else ""))
    if trainer.trained_on != world.size:
        print(f"resuming a run of {trainer.trained_on} process(es) on {world.size}: the same "
              f"data position and column states; the float sums of the gradients (and dropout "
              f"masks) differ from an unchanged run's (docs/distributed.md)")


def train(config: RunConfig | None = None, out: str | Path | None = None,
          resume: str | Path | None = None, restart_schedule: bool = False) -> Path:
    """Train a model as configured, or continue the run `resume` (its config.json unless a
    config is given; restart_schedule: a new learning-rate cycle over the budget added);
    return the run directory. Under torchrun, every rank calls it (rank 0 chooses the run
    directory and writes it)."""
    if config is None:
        if not resume:
            raise RnnlmError("train needs a config (or resume=RUN)")
        config = run_config(Path(resume))
    data = config.resolve().data  # bad options fail before the corpus is read
    world = distributed.join(pick_device(config.train.device))
    trainer, finished = None, False
    try:
        world.check_rows(data.batch_size, data.mode)
        run_dir, resuming = world.broadcast(
            place_run(config, out, resume, restart_schedule) if world.main else None)
        if config.pairs:  # an encoder–decoder: the same loop, its own batches and steps
            from rnnlm.train.pairs import Seq2SeqTrainer
            trainer = Seq2SeqTrainer(config, run_dir, resuming, restart_schedule, world)
        elif config.captions:  # an image captioner: likewise
            from rnnlm.train.captions import CaptionTrainer
            trainer = CaptionTrainer(config, run_dir, resuming, restart_schedule, world)
        else:
            trainer = Trainer(config, run_dir, resuming, restart_schedule, world)
        if world.main:
            announce(trainer, resuming, restart_schedule)
        trainer.run()
        finished = True
    except RuntimeError as err:  # torch's DistError is one
        if world.size == 1 or not distributed.is_lost_rank(err):
            raise
        raise distributed.lost_rank(world, trainer.step if trainer else 0, err,
                                    trainer.run_dir if trainer else None) from err
    finally:
        world.close(finished)
    if world.main:
        early = " (validation stopped improving: --overfit-decay ended the run)" \
            if trainer.schedule.done(trainer.step) else ""
        print(f"done: step {trainer.step}, {fmt_duration(trainer.elapsed)}{early}; "
              f"{trainer.summary()}")
    return run_dir
