"""Language models: the recurrent LM and its cells, the min-cell LMs, the causal transformer,
and the factory."""

import torch

from rnnlm.config import MIN_CELLS, ModelConfig
from rnnlm.models.minrnn import MinRNNLanguageModel
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.transformer import TransformerLanguageModel

# What trainer, scoring and sampling hold: forward(ids (B, T), state, lengths) →
# (logits (B, T, V), state), num_parameters(), cfg, trains_with_carried_state.
LanguageModelNet = RNNLanguageModel | MinRNNLanguageModel | TransformerLanguageModel


def build_model(cfg: ModelConfig, device: torch.device | str = "cpu") -> LanguageModelNet:
    """The network that cfg describes, built for the device it will run on (the RNN picks
    its fastest kernels for it): the transformer for --cell transformer, the min-cell LM for
    mingru and minlstm, else the RNN."""
    if cfg.cell == "transformer":
        return TransformerLanguageModel(cfg)
    if cfg.cell in MIN_CELLS:
        return MinRNNLanguageModel(cfg)
    return RNNLanguageModel(cfg, torch.device(device).type)


__all__ = ["LanguageModelNet", "MinRNNLanguageModel", "RNNLanguageModel",
           "TransformerLanguageModel", "build_model"]
