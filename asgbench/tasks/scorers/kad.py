"""KAD zero-shot (Zhang et al., Nat. Commun. 2023), as A3_CLIP/test_chestxray14.py and test_chexpert.py compute it.

- Queries: one plain disease name per class (``prompts/kad/<dataset>.<version>.json``: the ``text_list`` of
  the test scripts), tokenized (lower-cased, padded to 256 tokens), through Med-KEBERT's pooler output and
  ``mlp_embed`` (Linear, GELU, Linear): 768-d, not normalised. The tokenizer is read from beside the
  checkpoint or ``$ASGBENCH_WEIGHTS/Med-KEBERT`` (the BERT's weights are in the checkpoint).
- Image: the ResNet's last map (layer4 at 512 px; layer3 for KAD-224), each position through ``res_l1``,
  ReLU, ``res_l2`` (768-d).
- TQN: ``decoder_norm`` applied to both the patch embeddings and the queries, the 4-layer pre-norm decoder,
  ``decoder_norm`` again (the decoder's final norm is the same module), ``mlp_head`` (768 -> 2); softmax
  over the 2 outputs, weight of output 1. The task's class names are decoded together, as the scripts do.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.query_decoder import DecoderLayers, decoder_depth, load_strict, one_query_per_label, positive_class
from asgbench.tasks.scorers.text import part, tokenizer_for

MAX_LENGTH = 256           # --max_length default of the test scripts


class TQN(nn.Module):
    """KAD's TQN_Model under its released names (``decoder.norm`` is ``decoder_norm`` and is not kept twice)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        width = state["decoder_norm.weight"].shape[0]
        self.logit_scale = nn.Parameter(torch.zeros(()))   # trained but unused at test time
        self.decoder_norm = nn.LayerNorm(width)
        self.decoder = DecoderLayers(width, decoder_depth(state))
        self.mlp_head = nn.Sequential(nn.Linear(width, state["mlp_head.0.weight"].shape[0]))
        load_strict(self, state, "kad TQN")

    def forward(self, patches: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """Projected patches B x N x 768 and queries Q x 768 -> logits B x Q x 2."""
        memory = self.decoder_norm(patches)
        out = self.decoder(self.decoder_norm(queries).unsqueeze(0).expand(patches.shape[0], -1, -1), memory)
        return self.mlp_head(self.decoder_norm(out))


def _linear_pair(state: dict[str, torch.Tensor], first: str, second: str) -> nn.ModuleDict:
    layers = nn.ModuleDict({name: nn.Linear(state[f"{name}.weight"].shape[1], state[f"{name}.weight"].shape[0])
                            for name in (first, second)})
    return load_strict(layers, state, "kad projection")


def text_queries(encoder, texts: list[str], device: str) -> torch.Tensor:
    """``mlp_embed(pooler_output)`` of each text, as CLP_clinical.encode_text."""
    tokens = tokenizer_for(encoder)(texts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    tower = part(encoder, "text").eval()
    mlp_state = part(encoder, "text_mlp").state_dict()
    mlp = nn.Sequential(nn.Linear(*mlp_state["0.weight"].shape[::-1]), nn.GELU(), nn.Linear(*mlp_state["2.weight"].shape[::-1]))
    mlp = load_strict(mlp, mlp_state, "kad mlp_embed").to(device).eval()
    with torch.inference_mode():
        out = tower(input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device))
        return mlp(out.pooler_output.float())


def build(encoder, inputs: ScorerInputs) -> ClassScorer:
    tqn = TQN(part(encoder, "query_decoder").state_dict()).to(inputs.device).eval()
    projection = _linear_pair(part(encoder, "patch_projection").state_dict(), "res_l1", "res_l2").to(inputs.device).eval()
    names = one_query_per_label(inputs.prompts, inputs.labels, "kad")
    queries = text_queries(encoder, names, inputs.device)

    def score(images: torch.Tensor) -> torch.Tensor:
        tokens = encoder.encode(images).tokens
        patches = projection["res_l2"](F.relu(projection["res_l1"](tokens)))
        return positive_class(tqn(patches, queries.to(patches.dtype)))

    return ClassScorer(score, {"queries": "disease names via Med-KEBERT pooler + mlp_embed", "query_texts": names,
                               "max_length": MAX_LENGTH})
