"""Config: durations, validation messages, TOML and JSON round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlm.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnlm.configfile import from_dict, load_json, load_toml
from rnnlm.errors import RnnlmError
from rnnlm.options import parse_duration


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("1h30m", 5400),
                                          ("2.5m", 150), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "m", "", "1x"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(RnnlmError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("group,name,value,flag", [
    ("model", "hidden", 0, "--hidden"), ("model", "layers", -1, "--layers"),
    ("model", "dropout", 1.0, "--dropout"), ("model", "embedding", -3, "--embedding"),
    ("data", "batch_size", 0, "--batch-size"), ("data", "seq_len", -5, "--seq-len"),
    ("data", "val_fraction", 0.0, "--val-fraction"), ("train", "lr", 0.0, "--lr"),
    ("train", "lr", -1e-3, "--lr"), ("train", "clip", -1.0, "--clip"),
    ("train", "decay_rate", 1.5, "--decay-rate"), ("train", "max_steps", 0, "--max-steps"),
    ("model", "cell", "transformerx", "--cell"), ("model", "activation", "swish", "--activation"),
])
def test_validation_names_the_flag(group: str, name: str, value: object, flag: str) -> None:
    config = RunConfig()
    setattr(getattr(config, group), name, value)
    with pytest.raises(RnnlmError) as e:
        config.validate()
    assert str(e.value).startswith(flag) and "\n" not in str(e.value)


def test_tie_weights_needs_equal_sizes() -> None:
    config = RunConfig()
    config.model.tie_weights, config.model.embedding, config.model.hidden = True, 64, 128
    with pytest.raises(RnnlmError, match="--embedding 128"):
        config.validate()


def test_toml_and_json_round_trip(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[model]\nhidden = 64\ncell = "gru"\n[train]\nmax_time = "2m"\n')
    config = from_dict(load_toml(toml), str(toml)).validate()
    assert (config.model.hidden, config.model.cell, config.train.max_time) == (64, "gru", 120)
    config.save(tmp_path / "config.json")
    assert load_json(tmp_path / "config.json") == config


def test_toml_unknown_key(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("[model]\nhiden = 64\n")
    with pytest.raises(RnnlmError, match="unknown key 'hiden' in \\[model\\]"):
        from_dict(load_toml(toml), str(toml))


def test_documents_train_in_pieces_of_the_window_unless_told(tmp_path: Path) -> None:
    """--chunk defaults to --seq-len in documents mode (one step's memory is bounded); 0 is
    whole documents; a run saved before that default (chunk null) keeps whole documents."""
    docs = RunConfig(data=DataConfig(documents="lines", seq_len=64)).resolve()
    assert (docs.data.mode, docs.data.chunk) == ("documents", 64)
    whole = RunConfig(data=DataConfig(documents="lines", chunk=0)).resolve()
    assert whole.data.chunk == 0 and RunConfig().resolve().data.chunk is None
    old = docs.to_dict()
    old["data"]["chunk"], old["data"]["split"] = None, old["data"].pop("word_split")
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = load_json(tmp_path / "config.json")
    assert loaded.data.chunk == 0 and loaded.data.word_split == "words"


def test_ntasgd_defaults_to_awd_lstms_lr_clip_and_constant_schedule() -> None:
    t = RunConfig(train=TrainConfig(optimizer="ntasgd")).resolve().train
    assert (t.lr, t.clip, t.lr_schedule, t.nonmono) == (30.0, 0.25, "constant", 5)
    t = RunConfig(train=TrainConfig(optimizer="ntasgd", lr=10.0, clip=0.5)).resolve().train
    assert (t.lr, t.clip) == (10.0, 0.5)
    t = RunConfig().resolve().train
    assert (t.lr, t.clip, t.lr_schedule) == (3e-3, 1.0, "cosine")


@pytest.mark.parametrize("data,model,train,match", [
    ({"documents": "lines", "variable_bptt": True}, {}, {}, "documents mode cuts documents"),
    ({"variable_bptt": True}, {"cell": "transformer"}, {}, "past the transformer's --block"),
    ({}, {}, {"optimizer": "ntasgd", "lr_schedule": "cosine"}, "drop --lr-schedule cosine"),
])
def test_awd_options_refuse_what_they_do_not_fit(data: dict, model: dict, train: dict,
                                                 match: str) -> None:
    config = RunConfig(ModelConfig(**model), DataConfig(**data), TrainConfig(**train))
    with pytest.raises(RnnlmError, match=match) as e:
        config.resolve()
    assert "\n" not in str(e.value)


def test_ntasgd_is_for_language_models() -> None:
    config = RunConfig(train=TrainConfig(optimizer="ntasgd"))
    config.seq2seq.pairs = "tsv"
    with pytest.raises(RnnlmError, match="ntasgd averages a language model's weights"):
        config.resolve()


@pytest.mark.parametrize("model,seq2seq,match", [
    ({"cell": "transformer", "weight_drop": 0.5}, None, "--weight-drop regularizes the "
     r"recurrent language model \(lstm, gru, rnn\), not --cell transformer"),
    ({"ar": 2.0}, "tsv", r"--ar regularizes the recurrent language model \(.*\), not --pairs"),
    ({"cell": "mingru", "weight_drop": 0.3}, None, "not --cell mingru"),
    ({"layers": 1, "dropout_hidden": 0.3}, None, "--dropout-hidden acts between recurrent "
     "layers; give --layers 2"),
])
def test_awd_regularizers_belong_to_the_recurrent_lm(model: dict[str, object],
                                                     seq2seq: str | None, match: str) -> None:
    config = RunConfig()
    for key, value in model.items():
        setattr(config.model, key, value)
    config.seq2seq.pairs = seq2seq
    with pytest.raises(RnnlmError, match=match) as e:
        config.validate()
    assert "\n" not in str(e.value)


def test_a_run_saved_before_the_awd_regularizers_loads_without_them(tmp_path: Path) -> None:
    """Their keys are absent from an older config.json; --init-from may then set them."""
    old = RunConfig().to_dict()
    for key in ("weight_drop", "dropout_input", "dropout_hidden", "dropout_output",
                "dropout_embedding", "ar", "tar"):
        del old["model"][key]
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = load_json(tmp_path / "config.json").validate()
    assert (loaded.model.weight_drop, loaded.model.ar, loaded.model.dropout_hidden) == (0, 0, 0)
    loaded.init_from = "runs/old"
    tuned = loaded.with_options({"model": {"weight_drop": 0.5, "tar": 1.0}})
    assert (tuned.model.weight_drop, tuned.model.tar) == (0.5, 1.0)
