"""The ASG pre-training losses against hand computations, and the IRL tag decoder's shapes and names."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from asgbench.errors import ConfigError
from asgbench.pretrain.losses import (
    LossWeights, arsa_loss, erl_loss, erl_targets, ira_loss, irl_loss, total_loss,
)
from asgbench.pretrain.tag_decoder import TagDecoder, TagDecoderConfig, TagQueries, encode_tag_queries
from asgbench.vocab import ASG_TAGS

TAU = 0.07


def unit(*shape: int, generator: torch.Generator | None = None, dim: int = -1) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=generator, dtype=torch.float64), dim=dim)


def softplus(x: float) -> float:
    """-log softmax of the target in a two-way choice whose other logit exceeds it by x."""
    return math.log1p(math.exp(x))


# ---------------------------------------------------------------------------------------------- IRA


def test_ira_matches_hand_computation_and_is_symmetric():
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    report = torch.tensor([[0.6, 0.8], [1.0, 0.0]], dtype=torch.float64)
    # S = [[0.6, 1.0], [0.8, 0.0]] / tau; rows are image->report, columns report->image.
    rows = (softplus((1.0 - 0.6) / TAU) + softplus((0.8 - 0.0) / TAU)) / 2
    columns = (softplus((0.8 - 0.6) / TAU) + softplus((1.0 - 0.0) / TAU)) / 2
    assert ira_loss(image, report).item() == pytest.approx(rows + columns, rel=1e-12)
    assert ira_loss(report, image).item() == pytest.approx(ira_loss(image, report).item(), rel=1e-12)


def test_ira_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        ira_loss(torch.zeros(3, 4), torch.zeros(2, 4))


# ---------------------------------------------------------------------------------------------- ERL


def test_erl_targets_hand_case():
    # images 0 and 1 share their tags; image 2 has only an 'uncertain' (-1) tag, i.e. no positive tag at all.
    tags = torch.tensor([[1, 0, 1, 0], [1, 0, 1, -1], [0, -1, 0, 0]])
    eps = 1e-6
    twin = 0.8 + 0.2 + eps, 0.2 + eps, eps
    twin_sum = sum(twin)
    alone_sum = 0.8 + 3 * eps
    expected = torch.tensor([
        [twin[0] / twin_sum, twin[1] / twin_sum, twin[2] / twin_sum],
        [twin[1] / twin_sum, twin[0] / twin_sum, twin[2] / twin_sum],
        [eps / alone_sum, eps / alone_sum, (0.8 + eps) / alone_sum],
    ], dtype=torch.float64)
    targets = erl_targets(tags, torch.float64)
    torch.testing.assert_close(targets, expected, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(3, dtype=torch.float64))


def vectors_with_gram(gram: torch.Tensor) -> torch.Tensor:
    """Rows whose pairwise dot products are ``gram`` (unit rows when its diagonal is 1)."""
    return torch.linalg.cholesky(gram)


def test_erl_is_zero_when_softmax_equals_targets_and_positive_otherwise():
    tags = torch.tensor([[1, 0, 1], [1, 0, 1], [1, 0, 1]])  # all alike: T is symmetric with equal row sums
    targets = erl_targets(tags, torch.float64)
    # softmax_row(S) = T  <=>  S = log T + row constant; with diag(S) = 1/tau the embeddings are unit vectors.
    gram = 1.0 + TAU * (targets.log() - targets.log().diagonal().unsqueeze(1))
    embeddings = vectors_with_gram(gram)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(torch.softmax(embeddings @ embeddings.t() / TAU, dim=1), targets)
    assert abs(erl_loss(embeddings, embeddings, tags).item()) < 1e-10

    generator = torch.Generator().manual_seed(0)
    image, report = unit(3, 8, generator=generator), unit(3, 8, generator=generator)
    assert erl_loss(image, report, tags).item() > 1e-3


def test_erl_matches_kl_definition():
    generator = torch.Generator().manual_seed(1)
    image, report = unit(4, 6, generator=generator), unit(4, 6, generator=generator)
    tags = torch.tensor([[1, 0], [0, 1], [1, 1], [-1, 0]])
    targets = erl_targets(tags, torch.float64)
    logits = image @ report.t() / TAU

    def sym_kl(predicted_logits):
        log_p = F.log_softmax(predicted_logits, dim=1)
        forward = F.kl_div(log_p, targets, reduction="batchmean")  # KL(T || P)
        backward = F.kl_div(targets.log(), log_p, reduction="batchmean", log_target=True)  # KL(P || T)
        return 0.5 * (forward + backward)

    expected = 0.5 * (sym_kl(logits) + sym_kl(logits.t()))
    assert erl_loss(image, report, tags).item() == pytest.approx(expected.item(), rel=1e-10)


# ---------------------------------------------------------------------------------------------- IRL


def test_irl_treats_uncertain_as_absent():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], dtype=torch.float64)
    tags = torch.tensor([[1, -1, 0], [-1, 1, 1]])
    binary = [[1, 0, 0], [0, 1, 1]]
    manual = 0.0
    for row in range(2):
        for column in range(3):
            p = 1 / (1 + math.exp(-logits[row, column].item()))
            y = binary[row][column]
            manual -= y * math.log(p) + (1 - y) * math.log(1 - p)
    assert irl_loss(logits, tags).item() == pytest.approx(manual / 6, rel=1e-12)


# --------------------------------------------------------------------------------------------- ARSA


def arsa_by_loops(patch_map, boxes, box_valid, words, sentence_index, tau=TAU):
    """Straightforward per-image reference: only the image's valid slots, mean over every valid slot."""
    total, count = 0.0, 0
    for b in range(patch_map.shape[0]):
        slots = box_valid[b].nonzero().flatten().tolist()
        if not slots:
            continue
        regions = roi_align(patch_map[b:b + 1], [boxes[b, slots].to(patch_map.dtype)], output_size=1,
                            spatial_scale=1.0, sampling_ratio=-1, aligned=False).flatten(1)
        sentences = []
        for k in slots:
            index = sentence_index[b, k]
            index = index[index >= 0]
            sentences.append(words[b, index].mean(0) if len(index) else torch.zeros(words.shape[-1], dtype=words.dtype))
        logits = regions @ torch.stack(sentences).t() / tau
        own = torch.arange(len(slots))
        total = total + F.cross_entropy(logits, own, reduction="sum") + F.cross_entropy(logits.t(), own, reduction="sum")
        count += len(slots)
    return total / max(count, 1)


def random_arsa_batch(batch, slots, height, width, dim=6, words=9, sentence_len=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    patch_map = unit(batch, dim, height, width, generator=generator, dim=1)
    x1 = torch.rand(batch, slots, generator=generator, dtype=torch.float64) * (width - 2)
    y1 = torch.rand(batch, slots, generator=generator, dtype=torch.float64) * (height - 2)
    w = 1 + torch.rand(batch, slots, generator=generator, dtype=torch.float64) * (width - 1 - x1)
    h = 1 + torch.rand(batch, slots, generator=generator, dtype=torch.float64) * (height - 1 - y1)
    boxes = torch.stack([x1, y1, x1 + w, y1 + h], dim=-1)
    word_embeddings = unit(batch, words, dim, generator=generator)
    sentence_index = torch.randint(0, words, (batch, slots, sentence_len), generator=generator)
    sentence_index[..., -1] = -1  # a padded position in every row
    return patch_map, boxes, word_embeddings, sentence_index


def test_arsa_hand_case():
    e1, e2 = [1.0, 0.0], [0.0, 1.0]
    patch_map = torch.tensor([[e1, e1, e2, e2]] * 4, dtype=torch.float64).permute(2, 0, 1).unsqueeze(0)  # 1x2x4x4
    boxes = torch.tensor([[[0.0, 0.0, 1.0, 3.0], [2.0, 0.0, 3.0, 3.0]]], dtype=torch.float64)  # left / right half
    words = torch.tensor([[e1, e2]], dtype=torch.float64)
    sentence_index = torch.tensor([[[0, -1], [0, 1]]])  # sentence 0 = e1, sentence 1 = mean(e1, e2)
    # regions are e1 and e2: logits [[1, .5], [0, .5]] / tau, targets on the diagonal.
    rows = softplus(-0.5 / TAU) + softplus(-0.5 / TAU)
    columns = softplus(-1.0 / TAU) + math.log(2.0)
    loss = arsa_loss(patch_map, boxes, torch.tensor([[True, True]]), words, sentence_index)
    assert loss.item() == pytest.approx((rows + columns) / 2, rel=1e-12)


def test_arsa_matches_reference_with_scattered_padding():
    patch_map, boxes, words, sentence_index = random_arsa_batch(3, 5, 14, 14)
    box_valid = torch.tensor([[True, True, True, False, False], [True, False, True, False, True],
                              [False, False, False, False, False]])
    sentence_index[0, 2] = -1  # a valid region whose sentence is empty -> zero vector
    expected = arsa_by_loops(patch_map, boxes, box_valid, words, sentence_index)
    actual = arsa_loss(patch_map, boxes, box_valid, words, sentence_index)
    assert actual.item() == pytest.approx(expected.item(), rel=1e-10)


def test_arsa_never_contrasts_across_images():
    """Image 0's share of the batch loss is its own loss, whatever image 1's sentences are.

    Perturbing image 1's sentences into the exact region features of image 0 (the strongest possible
    confusers, were they ever used as negatives) leaves that share unchanged.
    """
    patch_map, boxes, words, sentence_index = random_arsa_batch(2, 3, 14, 14, seed=3)
    box_valid = torch.tensor([[True, True, True], [True, True, False]])
    n0, n1, total = 3, 2, 5

    def image_0_share(word_embeddings, index):
        batch = arsa_loss(patch_map, boxes, box_valid, word_embeddings, index) * total
        image_1 = arsa_loss(patch_map[1:], boxes[1:], box_valid[1:], word_embeddings[1:], index[1:]) * n1
        return (batch - image_1).item()

    alone = arsa_loss(patch_map[:1], boxes[:1], box_valid[:1], words[:1], sentence_index[:1]).item() * n0
    assert image_0_share(words, sentence_index) == pytest.approx(alone, rel=1e-10)

    regions_0 = roi_align(patch_map[:1], [boxes[0]], output_size=1, sampling_ratio=-1, aligned=False).flatten(1)
    confusers = words.clone()
    confusers[1, :3] = regions_0
    confuser_index = sentence_index.clone()
    confuser_index[1] = torch.tensor([[0, -1, -1, -1], [1, -1, -1, -1], [2, -1, -1, -1]])
    assert image_0_share(confusers, confuser_index) == pytest.approx(alone, rel=1e-10)


def test_arsa_ignores_padding_slots():
    patch_map, boxes, words, sentence_index = random_arsa_batch(2, 5, 14, 14, seed=4)
    box_valid = torch.tensor([[True, True, False, False, False], [True, True, True, False, False]])
    padded = arsa_loss(patch_map, boxes, box_valid, words, sentence_index)
    garbage_boxes = boxes.clone()
    garbage_boxes[:, 3:] = -1.0
    garbage_boxes[0, 2] = float("nan")
    assert arsa_loss(patch_map, garbage_boxes, box_valid, words, sentence_index).item() == pytest.approx(
        padded.item(), rel=1e-12)
    trimmed_boxes = boxes[:, :3]
    trimmed_valid = box_valid[:, :3]
    trimmed = arsa_loss(patch_map, trimmed_boxes, trimmed_valid, words, sentence_index[:, :3])
    assert trimmed.item() == pytest.approx(padded.item(), rel=1e-12)


def test_arsa_without_any_valid_region_is_zero_and_differentiable():
    patch_map, boxes, words, sentence_index = random_arsa_batch(2, 4, 14, 14, seed=5)
    patch_map.requires_grad_(True)
    words.requires_grad_(True)
    loss = arsa_loss(patch_map, boxes, torch.zeros(2, 4, dtype=torch.bool), words, sentence_index)
    assert torch.isfinite(loss) and loss.item() == 0.0
    loss.backward()
    assert patch_map.grad is not None and torch.count_nonzero(patch_map.grad) == 0
    assert words.grad is not None and torch.count_nonzero(words.grad) == 0


def test_arsa_on_a_7_by_9_grid():
    patch_map, boxes, words, sentence_index = random_arsa_batch(2, 4, 7, 9, seed=6)
    box_valid = torch.tensor([[True, True, True, True], [True, True, False, False]])
    assert boxes[..., 2].max() <= 9 and boxes[..., 3].max() <= 7
    loss = arsa_loss(patch_map, boxes, box_valid, words, sentence_index)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(arsa_by_loops(patch_map, boxes, box_valid, words, sentence_index).item(),
                                        rel=1e-10)


def test_arsa_rejects_word_index_past_the_sequence():
    patch_map, boxes, words, sentence_index = random_arsa_batch(1, 2, 14, 14)
    sentence_index[0, 0, 0] = words.shape[1]
    with pytest.raises(ValueError):
        arsa_loss(patch_map, boxes, torch.ones(1, 2, dtype=torch.bool), words, sentence_index)


# ------------------------------------------------------------------------------------ gradients, total


def test_gradients_reach_every_input():
    patch_map, boxes, words, sentence_index = random_arsa_batch(2, 3, 7, 7, seed=7)
    generator = torch.Generator().manual_seed(8)
    inputs = {
        "patch_map": patch_map.requires_grad_(True), "words": words.requires_grad_(True),
        "image": unit(2, 6, generator=generator).requires_grad_(True),
        "report": unit(2, 6, generator=generator).requires_grad_(True),
        "tag_logits": torch.randn(2, 5, generator=generator, dtype=torch.float64).requires_grad_(True),
    }
    tags = torch.tensor([[1, 0, -1, 1, 0], [0, 1, 1, 0, -1]])
    parts = {
        "ira": ira_loss(inputs["image"], inputs["report"]),
        "arsa": arsa_loss(inputs["patch_map"], boxes, torch.ones(2, 3, dtype=torch.bool), inputs["words"],
                          sentence_index),
        "irl": irl_loss(inputs["tag_logits"], tags),
        "erl": erl_loss(inputs["image"], inputs["report"], tags),
    }
    total_loss(parts, LossWeights(), {"ira", "arsa", "irl", "erl"}).backward()
    for name, tensor in inputs.items():
        assert tensor.grad is not None and torch.count_nonzero(tensor.grad) > 0, name


def test_total_loss_weights_and_switches():
    parts = {name: torch.tensor(value) for name, value in {"ira": 1.0, "arsa": 2.0, "irl": 3.0, "erl": 4.0}.items()}
    weights = LossWeights()
    assert (weights.ira, weights.arsa, weights.irl, weights.erl) == (1.0, 1.0, 5.0, 1.0)
    assert total_loss(parts, weights, {"ira", "arsa", "irl", "erl"}).item() == pytest.approx(1 + 2 + 15 + 4)
    assert total_loss(parts, weights, {"ira", "irl"}).item() == pytest.approx(16.0)
    with pytest.raises(ConfigError):
        total_loss(parts, weights, {"ita"})
    with pytest.raises(ConfigError):
        total_loss(parts, weights, set())
    with pytest.raises(ValueError):
        total_loss({"ira": parts["ira"]}, weights, {"ira", "erl"})


# -------------------------------------------------------------------------------------- tag decoder

TINY = TagDecoderConfig(width=16, num_layers=1, num_heads=2, ffn_dim=32, dropout=0.1)


def tiny_decoder(query_dim=12, memory_dim=24, config=TINY):
    torch.manual_seed(0)
    return TagDecoder(torch.randn(len(ASG_TAGS), query_dim), memory_dim=memory_dim, config=config)


@pytest.mark.parametrize("grid", [(14, 14), (7, 9)])
def test_tag_decoder_gives_one_logit_per_tag(grid):
    decoder = tiny_decoder(config=TagDecoderConfig(width=16, num_layers=2, num_heads=2, ffn_dim=32))
    tokens = torch.randn(3, grid[0] * grid[1], 24, requires_grad=True)
    logits = decoder(tokens)
    assert logits.shape == (3, len(ASG_TAGS))
    irl_loss(logits, torch.ones(3, len(ASG_TAGS))).backward()
    assert tokens.grad is not None and torch.count_nonzero(tokens.grad) > 0
    assert all(p.grad is not None for p in decoder.parameters())
    decoder.eval()
    torch.testing.assert_close(decoder(tokens), decoder(tokens))


def test_tag_decoder_state_dict_names_are_stable():
    layer = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
             "self_attn.out_proj.bias", "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
             "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias",
             "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
             "norm3.weight", "norm3.bias"]
    expected = (["tag_queries", "query_projection.weight", "query_projection.bias", "memory_projection.weight",
                 "memory_projection.bias"] + [f"decoder.layers.0.{name}" for name in layer]
                + ["decoder.norm.weight", "decoder.norm.bias", "mlp_head.0.weight", "mlp_head.0.bias"])
    assert sorted(tiny_decoder().state_dict()) == sorted(expected)

    same_widths = tiny_decoder(query_dim=16, memory_dim=16)  # the released layout: no projections
    assert not any("projection" in name for name in same_widths.state_dict())

    owner = nn.Module()
    owner.irl = tiny_decoder()
    assert all(name.startswith("irl.") for name in owner.state_dict())
    assert "irl.tag_queries" in owner.state_dict() and not owner.irl.tag_queries.requires_grad


def test_fan_in_init_keeps_the_attention_path_at_its_input_scale():
    widths = dict(width=64, num_layers=1, num_heads=4, ffn_dim=128)
    release = tiny_decoder(memory_dim=64, config=TagDecoderConfig(**widths))
    fan_in = tiny_decoder(memory_dim=64, config=TagDecoderConfig(**widths, init="fan-in"))
    assert release.mlp_head[0].weight.std().item() == pytest.approx(0.02, rel=0.3)
    assert fan_in.mlp_head[0].weight.std().item() == pytest.approx(64 ** -0.5, rel=0.3)
    layer = fan_in.decoder.layers[0]
    assert layer.multihead_attn.in_proj_weight.std().item() == pytest.approx(64 ** -0.5, rel=0.1)
    assert layer.linear2.weight.std().item() == pytest.approx(128 ** -0.5, rel=0.1)
    # what the init is for: the image reaches the tag logits at a usable scale from the first step
    tokens = torch.randn(8, 4, 64)
    with torch.no_grad():
        spread = [float(model.eval()(tokens).std(0).mean()) for model in (release, fan_in)]
    assert spread[1] > 10 * spread[0]


def test_tag_decoder_rejects_bad_sizes():
    with pytest.raises(ConfigError):
        TagDecoderConfig(init="xavier")
    with pytest.raises(ConfigError):
        TagDecoderConfig(width=10, num_heads=4)
    with pytest.raises(ConfigError):
        TagDecoder(torch.zeros(40), memory_dim=8, config=TINY)


def tiny_bert_and_tokenizer():
    from transformers import BertConfig, BertModel, BertTokenizer

    words = sorted({word for tag in ASG_TAGS for word in tag.split()})
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tokenizer = BertTokenizer(vocab=vocab)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=32), add_pooling_layer=False)
    return model, tokenizer


def test_encode_tag_queries_is_frozen_deterministic_and_cacheable(tmp_path):
    model, tokenizer = tiny_bert_and_tokenizer()
    model.train()
    queries = encode_tag_queries(model, tokenizer, ASG_TAGS, "cpu")
    assert queries.shape == (len(ASG_TAGS), 16) and not queries.requires_grad
    assert model.training  # mode restored
    torch.testing.assert_close(queries, encode_tag_queries(model, tokenizer, ASG_TAGS, "cpu"))  # no dropout
    single = encode_tag_queries(model, tokenizer, ["pleural effusion"], "cpu")
    torch.testing.assert_close(single[0], queries[0], rtol=1e-5, atol=1e-5)  # padding does not leak into [CLS]

    cached = TagQueries.encode(model, tokenizer, ASG_TAGS, "cpu").save(tmp_path / "tags.pt")
    loaded = TagQueries.load(cached, ASG_TAGS)
    torch.testing.assert_close(loaded.vectors, queries)
    with pytest.raises(ConfigError):
        TagQueries.load(cached, tuple(reversed(ASG_TAGS)))
    assert TagDecoder(loaded.vectors, memory_dim=16, config=TINY)(torch.randn(2, 5, 16)).shape == (2, len(ASG_TAGS))


def test_irl_with_uncertain_masked_leaves_the_minus_ones_out():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], dtype=torch.float64)
    tags = torch.tensor([[1, -1, 0], [-1, 1, 1]])
    kept = [(0, 0, 1), (0, 2, 0), (1, 1, 1), (1, 2, 1)]   # (row, column, target) of the entries that are not -1
    manual = 0.0
    for row, column, y in kept:
        p = 1 / (1 + math.exp(-logits[row, column].item()))
        manual -= y * math.log(p) + (1 - y) * math.log(1 - p)
    masked = irl_loss(logits, tags, mask_uncertain=True)
    assert masked.item() == pytest.approx(manual / len(kept), rel=1e-12)
    assert masked.item() != pytest.approx(irl_loss(logits, tags).item(), rel=1e-6)   # "ignore" is not "negative"
    certain = torch.tensor([[1, 0, 0], [0, 1, 1]])
    assert torch.equal(irl_loss(logits, certain, mask_uncertain=True), irl_loss(logits, certain))


def test_irl_with_every_tag_uncertain_is_an_attached_zero():
    logits = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    loss = irl_loss(logits, torch.full((2, 3), -1), mask_uncertain=True)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_erl_targets_already_leave_uncertain_tags_out():
    # soft labels use positives only: a -1 gives the same targets as a 0, which is what masking it would give
    tags = torch.tensor([[1, -1, 0], [1, 0, 1], [-1, -1, 1]])
    torch.testing.assert_close(erl_targets(tags, torch.float64), erl_targets(tags.clamp_min(0), torch.float64))
