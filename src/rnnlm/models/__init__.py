"""Language models: the recurrent LM and its cells."""

from rnnlm.models.rnn import RNNLanguageModel, State, map_state

__all__ = ["RNNLanguageModel", "State", "map_state"]
