"""The JoeyNMT peer for Tatoeba eng→fra: the same split and the same subword vocabulary as an
rnnlm pairs run, JoeyNMT 2.3's recurrent recipe (its iwslt_deen_bahdanau: bidirectional LSTM
encoder, Bahdanau attention, input feeding, scaled to the data and the budget: Adam at 1e-3,
not the recipe's 2e-4 for 100 epochs; warmup 200 steps then inverse square root, since the
recipe's plateau scheduler passes `verbose`, which torch 2.13 removed), trained for the same time on
the same CPU, then beam 5 on the test split, scored by the same sacreBLEU.

    RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
        python benchmarks/joeynmt_peer.py RUN --joey-python /opt/joey/bin/python [--minutes 30]

JoeyNMT runs in a venv of its own, outside the project's dependencies: `python -m venv
/opt/joey && /opt/joey/bin/pip install joeynmt==2.3.0 torch==2.13.0 importlib_metadata` (JoeyNMT
imports importlib_metadata without declaring it). The vocabulary is the run's
byte-level BPE: each sentence is written as its subword pieces separated by spaces, read by
JoeyNMT at its word level with the run's pieces as its vocabulary file, and its outputs are
decoded back to text with the run's tokenizer. JoeyNMT has no time budget: it is stopped after
--minutes and its best checkpoint (by validation loss) translates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from rnnlm.configfile import load_json
from rnnlm.inference.metrics import bleu_chrf
from rnnlm.tokenizers import load_tokenizer
from rnnlm.train.pairs import pairs_of

CONFIG = """name: "tatoeba_eng_fra_rnn"
joeynmt_version: "2.3.0"
data:
    train: "{d}/train"
    dev: "{d}/dev"
    test: "{d}/test"
    dataset_type: "plain"
    src: {{lang: "en", level: "word", lowercase: False, normalize: False, max_length: 100,
           voc_file: "{d}/vocab.txt", tokenizer_type: "none"}}
    trg: {{lang: "fr", level: "word", lowercase: False, normalize: False, max_length: 100,
           voc_file: "{d}/vocab.txt", tokenizer_type: "none"}}
testing: {{beam_size: 5, beam_alpha: 0.6, batch_size: 64, eval_metrics: ["bleu"],
          sacrebleu_cfg: {{tokenize: "13a"}}}}
training:
    random_seed: 42
    optimizer: "adam"
    learning_rate: 0.001  # the recipe's 0.0002 is for 100 epochs; this budget is 30 min
    learning_rate_min: 0.0000005
    weight_decay: 0.0
    clip_grad_norm: 1.0
    batch_size: 96
    scheduling: "warmupinversesquareroot"  # its plateau scheduler fails on torch 2.13
    learning_rate_warmup: 200
    early_stopping_metric: "loss"
    epochs: 100
    validation_freq: {freq}
    logging_freq: {log_freq}
    model_dir: "{d}/model"
    overwrite: True
    shuffle: True
    use_cuda: False
    fp16: False
    keep_best_ckpts: 1
model:
    initializer: "xavier_uniform"
    embed_initializer: "normal"
    embed_init_weight: 0.1
    bias_initializer: "zeros"
    init_rnn_orthogonal: False
    lstm_forget_gate: 0.
    tied_softmax: True
    encoder:
        type: "recurrent"
        rnn_type: "lstm"
        embeddings: {{embedding_dim: 512, scale: False}}
        hidden_size: 256
        bidirectional: True
        dropout: 0.1
        num_layers: 1
    decoder:
        type: "recurrent"  # JoeyNMT's default decoder is a transformer
        rnn_type: "lstm"
        embeddings: {{embedding_dim: 512, scale: False}}
        emb_scale: False
        hidden_size: 512
        dropout: 0.1
        hidden_dropout: 0.1
        num_layers: 1
        input_feeding: True
        init_hidden: "bridge"
        attention: "bahdanau"
"""


def pieces(tok, texts: list[str]) -> list[str]:
    """Each text as its subword pieces (the tokenizer's byte-level strings), space-joined."""
    vocab = {i: p for p, i in tok._hf.get_vocab().items()}
    return [" ".join(vocab[i] for i in tok.encode(t)) for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the rnnlm pairs run whose split and tokenizer to share")
    parser.add_argument("--joey-python", required=True, help="python of JoeyNMT's venv")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--validation-freq", type=int, default=1000,
                        help="steps between JoeyNMT's validations (each keeps the best model)")
    parser.add_argument("--out", default="/tmp/joeynmt-peer")
    args = parser.parse_args()
    out, run = Path(args.out), Path(args.run)
    out.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(run / "tokenizer.json")
    parts = pairs_of(load_json(run / "config.json").resolve())
    for name, split in (("train", "train"), ("dev", "val"), ("test", "test")):
        p = parts[split]
        (out / f"{name}.en").write_text("\n".join(pieces(tok, p.sources)) + "\n")
        (out / f"{name}.fr").write_text("\n".join(pieces(tok, p.targets)) + "\n")
    vocab = sorted(tok._hf.get_vocab().items(), key=lambda kv: kv[1])
    (out / "vocab.txt").write_text("".join(p + "\n" for p, _ in vocab))
    log_freq = min(100, args.validation_freq // 2)  # JoeyNMT wants it under validation_freq
    (out / "config.yaml").write_text(CONFIG.format(d=out, freq=args.validation_freq,
                                                   log_freq=log_freq))
    try:
        done = subprocess.run([args.joey_python, "-m", "joeynmt", "train",
                               str(out / "config.yaml")], timeout=args.minutes * 60)
        if done.returncode:
            sys.exit(f"JoeyNMT's training failed (exit status {done.returncode}); see above")
    except subprocess.TimeoutExpired:
        print(f"JoeyNMT stopped after {args.minutes:g} minutes", file=sys.stderr)
    with open(out / "test.en") as src:
        done = subprocess.run([args.joey_python, "-m", "joeynmt", "translate",
                               str(out / "config.yaml")], stdin=src, capture_output=True,
                              text=True, check=True)
    ids = {p: i for p, i in vocab}
    hyps = [tok.decode([ids[p] for p in line.split() if p in ids])
            for line in done.stdout.splitlines()]
    scores = bleu_chrf(hyps, parts["test"].references)
    print(json.dumps({"peer": "joeynmt 2.3.0", "minutes": args.minutes, **scores}))


if __name__ == "__main__":
    main()
