"""Interpolated modified Kneser–Ney n-gram models on any tokenizer, stored as ARPA files:
baselines to compare the recurrent models with (`rnnlm ngram train | eval | sample`; the
library functions are in rnnlm.ngram.lm). Kept free of imports so the command-line
parser can read the choices in rnnlm.ngram.documents without loading torch."""
