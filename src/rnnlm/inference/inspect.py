"""Look inside a model on a text: per token its surprisal in bits, the likeliest tokens at
that place, and what hidden units do; plus a ranking of the units by how well they follow
simple features of the text (inside quotes, inside brackets, position in the line,
indentation), so the interesting ones among thousands can be found.

Shared by `POST /v1/inspect` and `rnnlm inspect`. Surprisals are `rnnlm eval --per-token`'s
(token_nats); activations are each layer's hidden state h (and the LSTM's cell state c)
after reading the token, from the Stepper run one token at a time (a min-cell LM: its cells'
states h, expansion × hidden units per layer, from the model's own one-token steps).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import LN2, token_nats
from rnnlm.inference.stepper import Stepper, supports
from rnnlm.language_model import LanguageModel
from rnnlm.models import LanguageModelNet, MinRNNLanguageModel
from rnnlm.runtime import autocast

FEATURES = ("in_quotes", "in_brackets", "line_position", "indentation")
OPENERS, CLOSERS = "([{", ")]}"


def text_features(text: str) -> dict[str, np.ndarray]:
    """Per character, after reading it: inside double quotes (0/1), bracket depth > 0
    (0/1), characters since the line began, and the line's leading spaces."""
    quote = bracket = position = indent = 0
    leading = True
    out = {f: np.zeros(len(text)) for f in FEATURES}
    for i, ch in enumerate(text):
        if ch == "\n":
            position, indent, leading = 0, 0, True
        else:
            position += 1
            if leading and ch in " \t":
                indent += 1
            else:
                leading = False
        if ch == '"':
            quote ^= 1
        bracket = bracket + (ch in OPENERS) - (ch in CLOSERS and bracket > 0)
        out["in_quotes"][i], out["in_brackets"][i] = quote, bracket > 0
        out["line_position"][i], out["indentation"][i] = position, indent
    return out


def correlations(acts: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every column of acts (T, U) with feature (T,); 0 where either is
    constant."""
    a = acts - acts.mean(0)
    f = feature - feature.mean()
    denom = np.sqrt((a * a).sum(0) * (f * f).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * f[:, None]).sum(0) / denom
    return np.nan_to_num(r)


def units_per_layer(model: LanguageModelNet) -> int | None:
    """The units per layer the inspector shows (None: the transformer, which has none)."""
    if isinstance(model, MinRNNLanguageModel):
        return model.inner
    return model.cfg.hidden if supports(model) else None


@torch.inference_mode()
def activations(lm: LanguageModel, ids: torch.Tensor) -> dict[str, np.ndarray]:
    """Every layer's state after each id (1, P): {"hidden": (P, L, H), "cell": ... (LSTM)}."""
    if isinstance(lm.model, MinRNNLanguageModel):
        hidden, state = [], None
        for t in range(ids.shape[1]):
            with autocast(ids.device, lm.precision):
                _, state = lm.model(ids[:, t: t + 1], state)
            hidden.append(state[0][:, 0].float())  # (L, inner)
        return {"hidden": torch.stack(hidden).cpu().numpy()}
    st = Stepper(lm.model, 1, lm.precision)
    st.load_state(None)
    hidden, cell = [], []
    for t in ids[0]:
        st.step(t[None])
        hidden.append(torch.stack([h[0].float() for h in st.hs]))  # (L, H)
        if st.c is not None:
            cell.append(st.c[:, 0].clone())  # (L, H)
    out = {"hidden": torch.stack(hidden).cpu().numpy()}
    if cell:
        out["cell"] = torch.stack(cell).cpu().numpy()
    return out


def inspect_text(lm: LanguageModel, text: str, top_k: int = 5,
                 units: list[tuple[int, int]] | None = None, state: str = "hidden",
                 rank: int = 10) -> dict[str, Any]:
    """The inspection of a text (see the module docstring), as JSON-ready data."""
    ids = lm.encode_prime(text)  # (1, P): refuses characters a char model never saw
    tok = lm.tokenizer
    first = 1 if lm.boundaries else 0  # BOD is no text: every real token is predicted
    if ids.shape[1] - first < 1 or ids.shape[1] < 2:
        raise RnnlmError("the text is too short to inspect: it needs at least 2 tokens")
    with torch.inference_mode(), autocast(ids.device, lm.precision):
        logits, _ = lm.model(ids)  # (1, P, V)
    probs = F.softmax(logits[0].float(), dim=-1)  # (P, V): row i predicts ids[i + 1]
    top_p, top_i = torch.topk(probs, min(top_k, probs.shape[-1]), dim=-1)  # (P, k)
    nats = token_nats(lm.model, ids[0], lm.precision).tolist()  # ids[1:], as eval does
    tokens, offset = [], 0
    for i, token_id in enumerate(ids[0].tolist()[first:], start=first):
        piece = tok.decode([token_id])
        entry: dict[str, Any] = {"text": piece, "offset": offset,
                                 "bits": nats[i - 1] / LN2 if i else None, "top": None}
        if i:
            entry["top"] = [[tok.decode([j]), p] for j, p in
                            zip(top_i[i - 1].tolist(), top_p[i - 1].tolist(), strict=True)]
        tokens.append(entry)
        offset += len(piece)
    H = units_per_layer(lm.model)
    result: dict[str, Any] = {"tokens": tokens, "units": [], "ranking": [],
                              "layers": lm.model.cfg.layers, "hidden": H or lm.model.cfg.hidden,
                              "states": []}
    scored = [t["bits"] for t in tokens if t["bits"] is not None]
    result["bits_per_token"] = sum(scored) / len(scored) if scored else None
    if H is None:
        return result  # the transformer has no recurrent units to show
    acts = {k: v[first:] for k, v in activations(lm, ids).items()}  # (T, L, H) per state
    result["states"] = sorted(acts)
    if state not in acts:
        raise RnnlmError(f"state {state!r}: this {lm.model.cfg.cell} has only "
                         f"{' and '.join(sorted(acts))} states")
    L = lm.model.cfg.layers
    for layer, unit in units or []:
        if layer >= L or unit >= H:
            raise RnnlmError(f"unit ({layer}, {unit}) does not exist: the model has {L} "
                             f"layer(s) of {H} units")
        result["units"].append({"layer": layer, "unit": unit, "state": state,
                                "values": acts[state][:, layer, unit].tolist()})
    result["ranking"] = rank_units(acts, tokens, rank)
    return result


def rank_units(acts: dict[str, np.ndarray], tokens: list[dict[str, Any]], rank: int
               ) -> list[dict[str, Any]]:
    """The `rank` units (any layer, any state) most correlated with a feature of the text,
    each with its best feature, r and its values per token."""
    text = "".join(t["text"] for t in tokens)
    ends = np.cumsum([len(t["text"]) for t in tokens]) - 1  # last character of each token
    valid = ends >= 0
    feats = {name: np.where(valid, f[np.clip(ends, 0, None)], 0)
             for name, f in text_features(text).items()} if text else {}
    found = []
    for state, a in acts.items():
        T, L, H = a.shape
        flat = a.reshape(T, L * H)  # (T, L·H)
        for name, f in feats.items():
            r = correlations(flat, f)  # (L·H,)
            for j in np.argsort(-np.abs(r))[:rank]:
                found.append((abs(float(r[j])), state, int(j) // H, int(j) % H, name,
                              float(r[j])))
    found.sort(reverse=True)
    out, seen = [], set()
    for score, state, layer, unit, name, r in found:
        if (state, layer, unit) in seen or math.isnan(score) or len(out) >= rank:
            continue
        seen.add((state, layer, unit))
        out.append({"layer": layer, "unit": unit, "state": state, "feature": name, "r": r,
                    "values": acts[state][:, layer, unit].tolist()})
    return out
