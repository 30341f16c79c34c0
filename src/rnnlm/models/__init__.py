"""Language models: the recurrent LM and its cells, the causal transformer, and the factory."""

from rnnlm.config import ModelConfig
from rnnlm.models.rnn import RNNLanguageModel, State, map_state
from rnnlm.models.transformer import TransformerLanguageModel

# What trainer, scoring and sampling hold: forward(ids (B, T), state, lengths) →
# (logits (B, T, V), state), num_parameters(), cfg, trains_with_carried_state.
LanguageModelNet = RNNLanguageModel | TransformerLanguageModel


def build_model(cfg: ModelConfig) -> LanguageModelNet:
    """The network that cfg describes: the transformer for --cell transformer, else the RNN."""
    if cfg.cell == "transformer":
        return TransformerLanguageModel(cfg)
    return RNNLanguageModel(cfg)


__all__ = ["LanguageModelNet", "RNNLanguageModel", "State", "TransformerLanguageModel",
           "build_model", "map_state"]
