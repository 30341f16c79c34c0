"""The encoder–decoder for parallel pairs (translation, summarization), in the order data
flows through it: encoder.py → attention.py → decoder.py → copy.py → model.py."""

from rnnlm.models.seq2seq.model import Output, Seq2Seq

__all__ = ["Output", "Seq2Seq"]
