"""GLoRIA's text side for zero-shot: prompt clean-up, word-piece aggregation, word and sentence embeddings.

What GLoRIA's code (marshuang80/gloria at 416466a) does to a prompt, and this module repeats:

- ``GLoRIA.process_text`` (``gloria/models/gloria_model.py``): newlines become spaces; the text is split at
  numbered items (``[0-9]+\\.``) and then at periods; each piece is lower-cased and cut into ``\\w+`` tokens
  (nltk's ``RegexpTokenizer``), pieces of one token or none are dropped, non-ASCII characters are removed
  from each token and the pieces are joined with spaces. The result is tokenised padded to
  ``data.text.word_num`` = 97 positions with truncation. ``cap_lens`` is counted on the *raw prompt string*:
  its characters other than ``[`` (the code iterates over a string where it meant a token list), so a
  prompt's "word count" is its length in characters.
- ``BertEncoder.forward`` (``gloria/models/text_model.py``; chexpert_pretrain_config: ``last_n_layers: 4``,
  ``aggregate_method: sum``, ``agg_tokens: true``, ``norm: false``, ``embedding_dim: 768``, no projection:
  ``emb_global`` and ``emb_local`` stay None): the BERT runs with ``output_hidden_states``; the last four
  hidden states are stacked; ``aggregate_tokens`` merges word pieces into words by summing (a ``##`` piece
  joins the word before it; ``[CLS]`` is word 0; at ``[SEP]`` the pending word is closed, ``[SEP]`` itself is
  appended and the rest of the sequence is replaced by zeros); word embeddings are the sum over the four
  layers (768 x 97 per prompt); the sentence embedding is the mean over all 97 positions (zero padding
  included) summed over the four layers.
"""
from __future__ import annotations

import re

import torch

from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError
from asgbench.tasks.scorers.text import part

WORD_NUM = 97          # data.text.word_num: prompts are padded (and cut) to this many tokens
LAST_N_LAYERS = 4      # model.text.last_n_layers, aggregated by sum
_NUMBERED = re.compile(r"[0-9]+\.")
_WORD = re.compile(r"\w+")


def clean_prompt(text: str) -> str:
    """The string GLoRIA's ``process_text`` hands to the tokenizer."""
    text = text.replace("\n", " ")
    pieces = [sentence for point in _NUMBERED.split(text) for sentence in point.split(".")]
    kept = []
    for piece in pieces:
        tokens = _WORD.findall(piece.replace("\ufffd\ufffd", " ").lower())
        if len(tokens) <= 1:
            continue
        ascii_tokens = [t.encode("ascii", "ignore").decode("ascii") for t in tokens]
        kept.append(" ".join(t for t in ascii_tokens if t))
    return " ".join(kept)


def character_count(prompt: str) -> int:
    """GLoRIA's ``cap_lens`` for a prompt: its characters other than ``[`` (see the module docstring)."""
    return sum(1 for character in prompt if character != "[")


def aggregate_words(hidden: torch.Tensor, pieces: list[str]) -> torch.Tensor:
    """``aggregate_tokens`` for one prompt: ``hidden`` is positions x layers x dim, ``pieces`` the token strings.

    Returns positions x layers x dim: one row per word (pieces summed), then ``[SEP]``, then zeros.
    """
    rows: list[torch.Tensor] = []
    bank: list[torch.Tensor] = []
    for vector, piece in zip(hidden, pieces):
        if piece == "[SEP]":
            rows.append(torch.stack(bank).sum(dim=0))
            rows.append(vector)
            break
        if piece.startswith("##"):
            bank.append(vector)
        else:
            if bank:
                rows.append(torch.stack(bank).sum(dim=0))
            bank = [vector]
    else:
        raise ConfigError("GLoRIA prompt tokens have no [SEP]; the tokenizer must add BERT's special tokens")
    words = torch.stack(rows)
    return torch.cat([words, words.new_zeros(hidden.shape[0] - len(rows), *hidden.shape[1:])])


def tokenize_prompts(tokenizer, prompts: list[str], device: str) -> dict[str, torch.Tensor]:
    """Each prompt cleaned and tokenised alone, padded to 97, as ``process_text`` does."""
    encoded = [tokenizer(clean_prompt(p), truncation=True, padding="max_length", max_length=WORD_NUM,
                         return_tensors="pt") for p in prompts]
    return {key: torch.cat([e[key] for e in encoded]).to(device) for key in ("input_ids", "attention_mask", "token_type_ids")}


def embed_prompts(encoder: Encoder, tokenizer, prompts: list[str], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Word embeddings (prompts x 768 x 97) and sentence embeddings (prompts x 768), in float32."""
    tower = part(encoder, "text").eval()
    tokens = tokenize_prompts(tokenizer, prompts, device)
    with torch.inference_mode(), torch.autocast(torch.device(device).type, enabled=False):
        out = tower(**tokens, output_hidden_states=True)
        layers = torch.stack(out.hidden_states[-LAST_N_LAYERS:], dim=2).float()   # prompts x positions x layers x dim
        words = torch.stack([aggregate_words(layers[i], tokenizer.convert_ids_to_tokens(tokens["input_ids"][i].tolist()))
                             for i in range(len(prompts))])
        sentences = words.mean(dim=1).sum(dim=1)                                   # mean over positions, sum over layers
        return words.sum(dim=2).transpose(1, 2).contiguous(), sentences
