"""Building a WordPiece tokenizer offline from report text, saved in the transformers folder format.

Released text towers come with their tokenizer's vocabulary; a model asgbench pre-trains from scratch
needs its own. The vocabulary is built deterministically (so that a resumed or repeated pre-training run
gets the same token ids): the special tokens, every character seen (alone and as a ``##`` continuation),
then whole words by descending frequency (ties alphabetical) up to ``vocab_size``. Words outside it are
split into characters by the usual WordPiece rule. The folder loads with ``load_tokenizer`` (AutoTokenizer).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def build_vocabulary(texts: Iterable[str], vocab_size: int) -> list[str]:
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({c for word in words for c in word})
    vocabulary = list(SPECIAL_TOKENS) + characters + [f"##{c}" for c in characters]
    room = max(0, vocab_size - len(vocabulary))
    ranked = sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    return vocabulary + ranked[:room]


def train_wordpiece(texts: Iterable[str], folder: str | Path, vocab_size: int = 4096, max_length: int = 128) -> Path:
    """Build the vocabulary from ``texts`` and save a BERT-style fast tokenizer to ``folder``; returns the folder."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    vocabulary = build_vocabulary(texts, vocab_size)
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocabulary)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocabulary.index("[CLS]"), vocabulary.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(tokenizer_object=tokenizer, model_max_length=max_length, do_lower_case=True)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(folder))
    return folder
