"""Search for an encoder–decoder's output: greedy and beam search over a batch of sources,
with GNMT's length penalty lp(n) = ((5 + n) / 6)^α (Wu et al. 2016) and a maximum length per
source, and shallow fusion with a target-side language model: each step's score is
log p_TM(y) + λ log p_LM(y).

A model here has the shape of models.seq2seq.Seq2Seq: step(prev ids (B,), state, memory) →
(log-probabilities (B, V), state, attention (B, S)), its state and memory answering
select(rows). A language model for fusion is any rnnlm LM whose ids are the decoder's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rnnlm.models.state import State, map_state


@dataclass
class Hypothesis:
    """Output ids (BOD and EOD left out), their total log-probability (nats, the translation
    model's, fusion included), the length-normalized search score, and the attention rows
    (one per output step, EOD's included) when asked for."""

    ids: list[int]
    logp: float
    score: float
    attention: np.ndarray | None = None
    text: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def length_penalty(n: int, alpha: float) -> float:
    """GNMT's ((5 + n) / 6)^α for an output of n tokens (EOD counted); 1 when α = 0."""
    return ((5 + n) / 6) ** alpha


class Fusion:
    """A language model's log-probabilities, step by step beside the decoder's (its state
    reordered with the beams), weighted by λ."""

    def __init__(self, lm: Any, weight: float) -> None:
        self.lm, self.weight = lm, weight  # an rnnlm LanguageModelNet on the decoder's device

    def step(self, prev: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """λ · log p_LM (B, V) of the next token after prev (B,), and the next LM state."""
        logits, state = self.lm(prev[:, None], state)  # (B, 1, V)
        return self.weight * torch.log_softmax(logits[:, 0].float(), -1), state


def select_state(state: State | None, rows: torch.Tensor) -> State | None:
    """An LM state (batch on dimension 1) of the given rows."""
    return None if state is None else map_state(lambda h: h[:, rows], state)


@torch.no_grad()
def greedy(model: Any, memory: Any, state: Any, bod: int, eod: int, max_lengths: list[int],
           fusion: Fusion | None = None, attention: bool = False) -> list[Hypothesis]:
    """The most likely token at every step, for every source of the batch at once."""
    b = len(max_lengths)
    prev = torch.full((b,), bod, dtype=torch.long, device=memory.src.device)
    lm_state = None
    ids, logps, rows = [], [], []
    alive = torch.ones(b, dtype=torch.bool, device=prev.device)
    for _ in range(max(max_lengths)):
        logp, state, weights = model.step(prev, state, memory)  # (B, V), (B, S)
        if fusion is not None:
            lm_logp, lm_state = fusion.step(prev, lm_state)
            logp = logp + lm_logp
        best, prev = logp.max(-1)  # (B,)
        ids.append(prev)
        logps.append(torch.where(alive, best.double(), 0.0))
        rows.append(weights)
        alive = alive & (prev != eod)
        if not alive.any():
            break
    out = []
    tokens = torch.stack(ids, 1).tolist()  # (B, T)
    total = torch.stack(logps, 1)  # (B, T)
    att = torch.stack(rows, 1).float().cpu().numpy() if attention else None  # (B, T, S)
    for i, row in enumerate(tokens):
        row = row[: max_lengths[i]]
        n = row.index(eod) + 1 if eod in row else len(row)
        lp = float(total[i, :n].sum())
        out.append(Hypothesis([t for t in row[:n] if t != eod], lp, lp,
                              att[i, :n] if att is not None else None))
    return out


@torch.no_grad()
def beam_search(model: Any, memory: Any, state: Any, bod: int, eod: int, beam: int,
                max_lengths: list[int], alpha: float = 0.0, nbest: int = 1,
                fusion: Fusion | None = None, attention: bool = False
                ) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each source by score log p / lp(n): `beam` alive per
    source, the 2·beam best extensions taken each step, those ending in EOD finished; a
    source is done with `beam` finished hypotheses, or at its maximum length (whose alive
    hypotheses then finish as they are)."""
    b, k = len(max_lengths), beam
    device = memory.src.device
    rows = torch.arange(b, device=device).repeat_interleave(k)  # (B·K,)
    memory, state = memory.select(rows), state.select(rows)
    lm_state = None
    scores = torch.full((b, k), float("-inf"), dtype=torch.float64, device=device)  # summed
    scores[:, 0] = 0.0  # one live hypothesis per source at the start
    prev = torch.full((b * k,), bod, dtype=torch.long, device=device)
    history = torch.zeros((b * k, 0), dtype=torch.long, device=device)  # (B·K, t)
    att_history = None  # (B·K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    done = [False] * b
    for t in range(max(max_lengths)):
        logp, state, weights = model.step(prev, state, memory)  # (B·K, V), (B·K, S)
        if fusion is not None:
            lm_logp, lm_state = fusion.step(prev, lm_state)
            logp = logp + lm_logp
        vocab = logp.shape[-1]
        candidates = (scores.view(-1, 1) + logp.double()).view(b, k * vocab)  # (B, K·V)
        top, index = candidates.topk(min(2 * k, k * vocab), dim=1)  # (B, 2K)
        top_l, beam_l, tok_l = top.tolist(), (index // vocab).tolist(), (index % vocab).tolist()
        if attention:
            att_history = weights[:, None] if att_history is None else \
                torch.cat([att_history, weights[:, None]], 1)  # (B·K, t + 1, S)
        keep_rows, keep_tokens, keep_scores = [], [], []
        for i in range(b):
            alive: list[tuple[int, int, float]] = []  # (row, token, score)
            for score, j, token in zip(top_l[i], beam_l[i], tok_l[i], strict=True):
                if done[i] or score == float("-inf") or len(alive) == k:
                    break
                row = i * k + j
                if token == eod:
                    finished[i].append(_finish(history, att_history, row, [], score, alpha,
                                               t + 1))
                    if len(finished[i]) == k:
                        done[i] = True
                else:
                    alive.append((row, token, score))
            if not done[i] and t + 1 >= max_lengths[i]:  # out of room: finish as they are
                for row, token, score in alive:
                    finished[i].append(_finish(history, att_history, row, [token], score,
                                               alpha, t + 1))
                done[i] = True
            if done[i]:
                alive = []
            alive += [(i * k, eod, float("-inf"))] * (k - len(alive))  # empty slots
            for row, token, score in alive:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_scores.append(score)
        if all(done):
            break
        order = torch.tensor(keep_rows, device=device)
        prev = torch.tensor(keep_tokens, device=device)
        scores = torch.tensor(keep_scores, dtype=torch.float64, device=device).view(b, k)
        state, lm_state = state.select(order), select_state(lm_state, order)
        history = torch.cat([history[order], prev[:, None]], 1)
        if att_history is not None:
            att_history = att_history[order]
    return [sorted(f, key=lambda h: -h.score)[:nbest] for f in finished]


def _finish(history: torch.Tensor, att_history: torch.Tensor | None, row: int, last: list[int],
            score: float, alpha: float, n: int) -> Hypothesis:
    """A finished hypothesis: the row's ids (and a last token that is not EOD), its
    log-probability and its score normalized by lp(n)."""
    att = att_history[row].float().cpu().numpy() if att_history is not None else None
    return Hypothesis(history[row].tolist() + last, score, score / length_penalty(n, alpha), att)
