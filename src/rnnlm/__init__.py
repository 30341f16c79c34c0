"""rnnlm: recurrent neural-network language models — train, sample, score.

    import rnnlm
    run = rnnlm.train(rnnlm.RunConfig(data=rnnlm.DataConfig(corpus=["shakespeare"])))
    lm = rnnlm.load(run)
    print(lm.sample(prime="ROMEO:", length=200)[0])
    print(lm.score(open("held_out.txt").read()).bits_per_char)
"""

from rnnlm.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnlm.data.corpora import get_corpus, list_corpora, load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import Sampling
from rnnlm.inference.scoring import EvalResult
from rnnlm.language_model import LanguageModel
from rnnlm.train.trainer import train
from rnnlm.verbs.evaluate import evaluate
from rnnlm.verbs.sample import sample

load = LanguageModel.load

__all__ = [
    "DataConfig",
    "EvalResult",
    "LanguageModel",
    "ModelConfig",
    "RnnlmError",
    "RunConfig",
    "Sampling",
    "TrainConfig",
    "evaluate",
    "get_corpus",
    "list_corpora",
    "load",
    "load_corpus",
    "sample",
    "train",
]
