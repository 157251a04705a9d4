"""Writers of checkpoint files in each release's exact container and key layout, with random weights.

Shapes are those of the full-size architectures (ResNet-50, ViT-B/16, Swin-Tiny, BERT-base); containers
mirror what each project's training code saves (Lightning dicts with pickled config objects, DataParallel
``module.`` prefixes, ``position_ids`` buffers of old transformers, KAD's duplicated tensors, MRM's
decoder and ``args``, the MedCLIP zip, BenchX's ConVIRT ``model`` dict). Each writer returns the path and
the mapping "name in our backbone -> name in the file" so tests can compare tensors one by one.
"""
from __future__ import annotations

import argparse
import io
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from asgbench.encoders.backbones import ResNetBackbone, SwinBackbone, ViTBackbone

SEQUENTIAL = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}


def _randomise(state: dict[str, torch.Tensor], seed: int) -> OrderedDict:
    generator = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, value in state.items():
        if value.is_floating_point():
            out[key] = torch.randn(value.shape, generator=generator, dtype=value.dtype) * 0.02
        else:
            out[key] = value.clone()
    return out


def resnet50_state(seed: int, stop_after: str = "layer4") -> OrderedDict:
    return _randomise(ResNetBackbone(50, stop_after=stop_after).state_dict(), seed)


def vit_state(seed: int) -> OrderedDict:
    return _randomise(ViTBackbone("vit_base_patch16_224").state_dict(), seed)


def bert_state(seed: int, layers: int = 12, vocab: int = 28996, pooler: bool = True, token_types: bool = True,
               cross_attention: bool = False, position_ids: bool = True) -> OrderedDict:
    """A BERT-base state dict as transformers 4.x saved it (with the persistent position_ids buffer)."""
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=vocab, num_hidden_layers=layers)
    state = _randomise(BertModel(config, add_pooling_layer=pooler).state_dict(), seed)
    if not token_types:
        del state["embeddings.token_type_embeddings.weight"]
    if cross_attention:  # BLIP's med.py BERT: every layer also has a cross-attention block
        for layer in range(layers):
            for name in ("self.query", "self.key", "self.value", "output.dense"):
                state[f"encoder.layer.{layer}.crossattention.{name}.weight"] = torch.randn(768, 768) * 0.02
                state[f"encoder.layer.{layer}.crossattention.{name}.bias"] = torch.zeros(768)
            state[f"encoder.layer.{layer}.crossattention.output.LayerNorm.weight"] = torch.ones(768)
            state[f"encoder.layer.{layer}.crossattention.output.LayerNorm.bias"] = torch.zeros(768)
    if position_ids:
        state["embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    return state


def mgca_head_state(prefix: str, input_dim: int, conv: bool) -> OrderedDict:
    shape0 = (2048, input_dim, 1) if conv else (2048, input_dim)
    shape3 = (128, 2048, 1) if conv else (128, 2048)
    return OrderedDict({
        f"{prefix}head.0.weight": torch.randn(shape0) * 0.02, f"{prefix}head.0.bias": torch.zeros(2048),
        f"{prefix}head.1.weight": torch.ones(2048), f"{prefix}head.1.bias": torch.zeros(2048),
        f"{prefix}head.1.running_mean": torch.zeros(2048), f"{prefix}head.1.running_var": torch.ones(2048),
        f"{prefix}head.1.num_batches_tracked": torch.tensor(7),
        f"{prefix}head.3.weight": torch.randn(shape3) * 0.02, f"{prefix}head.3.bias": torch.zeros(128),
        f"{prefix}head.4.running_mean": torch.zeros(128), f"{prefix}head.4.running_var": torch.ones(128),
        f"{prefix}head.4.num_batches_tracked": torch.tensor(7),
    })


def decoder_state(prefix: str, layers: int, d_model: int, ffn: int, duplicate_norm: str | None = None) -> OrderedDict:
    """A DETR-style transformer decoder (self_attn, multihead_attn, linear1/2, norm1-3) and its final norm."""
    state = OrderedDict()
    for i in range(layers):
        for attention in ("self_attn", "multihead_attn"):
            state[f"{prefix}layers.{i}.{attention}.in_proj_weight"] = torch.randn(3 * d_model, d_model) * 0.02
            state[f"{prefix}layers.{i}.{attention}.in_proj_bias"] = torch.zeros(3 * d_model)
            state[f"{prefix}layers.{i}.{attention}.out_proj.weight"] = torch.randn(d_model, d_model) * 0.02
            state[f"{prefix}layers.{i}.{attention}.out_proj.bias"] = torch.zeros(d_model)
        state[f"{prefix}layers.{i}.linear1.weight"] = torch.randn(ffn, d_model) * 0.02
        state[f"{prefix}layers.{i}.linear1.bias"] = torch.zeros(ffn)
        state[f"{prefix}layers.{i}.linear2.weight"] = torch.randn(d_model, ffn) * 0.02
        state[f"{prefix}layers.{i}.linear2.bias"] = torch.zeros(d_model)
        for n in (1, 2, 3):
            state[f"{prefix}layers.{i}.norm{n}.weight"] = torch.ones(d_model)
            state[f"{prefix}layers.{i}.norm{n}.bias"] = torch.zeros(d_model)
    norm_w, norm_b = torch.ones(d_model), torch.zeros(d_model)
    state[f"{prefix}norm.weight"], state[f"{prefix}norm.bias"] = norm_w, norm_b
    if duplicate_norm:
        state[f"{duplicate_norm}.weight"], state[f"{duplicate_norm}.bias"] = norm_w, norm_b  # shared tensors
    return state


def _prefixed(prefix: str, state: dict, rename: dict[str, str] | None = None) -> tuple[OrderedDict, dict[str, str]]:
    out, mapping = OrderedDict(), {}
    for key, value in state.items():
        file_key = key
        if rename:
            head, _, rest = key.partition(".")
            file_key = f"{rename.get(head, head)}.{rest}"
        out[prefix + file_key] = value
        mapping[key] = prefix + file_key
    return out, mapping


def lightning(state: OrderedDict, hyper_parameters, version: str) -> dict:
    return {
        "epoch": 12, "global_step": 4200, "pytorch-lightning_version": version, "state_dict": state,
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {"best_model_score": torch.tensor(1.23)}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-5}]}], "lr_schedulers": [{"last_epoch": 12}],
        "hyper_parameters": hyper_parameters,
    }


def write_gloria(folder: Path) -> tuple[Path, dict]:
    from omegaconf import OmegaConf

    image, mapping = _prefixed("gloria.img_encoder.model.", resnet50_state(1))
    state = OrderedDict(image)
    state["gloria.img_encoder.global_embedder.weight"] = torch.randn(768, 2048) * 0.02
    state["gloria.img_encoder.global_embedder.bias"] = torch.zeros(768)
    state["gloria.img_encoder.local_embedder.weight"] = torch.randn(768, 1024, 1, 1) * 0.02
    state.update(_prefixed("gloria.text_encoder.model.", bert_state(2))[0])
    config = OmegaConf.create({"model": {"vision": {"model_name": "resnet_50"}, "text": {"bert_type": "emilyalsentzer/Bio_ClinicalBERT"}}})
    path = folder / "chexpert_resnet50.ckpt"
    torch.save(lightning(state, config, "1.1.4"), path)
    return path, mapping


def _mgca_state(backbone_state: OrderedDict, image_dim: int, local_dim: int) -> tuple[OrderedDict, dict]:
    image, mapping = _prefixed("img_encoder_q.model.", backbone_state)
    state = OrderedDict(image)
    state.update(mgca_head_state("img_encoder_q.global_embed.", image_dim, conv=False))
    state.update(mgca_head_state("img_encoder_q.local_embed.", local_dim, conv=True))
    state.update(_prefixed("text_encoder_q.model.", bert_state(3, layers=6, pooler=False, token_types=False, cross_attention=True))[0])
    state.update(mgca_head_state("text_encoder_q.global_embed.", 768, conv=False))
    state.update(mgca_head_state("text_encoder_q.local_embed.", 768, conv=True))
    for layer in ("patch_local_atten_layer", "word_local_atten_layer"):
        state[f"{layer}.in_proj_weight"] = torch.randn(384, 128) * 0.02
        state[f"{layer}.in_proj_bias"] = torch.zeros(384)
        state[f"{layer}.out_proj.weight"] = torch.randn(128, 128) * 0.02
        state[f"{layer}.out_proj.bias"] = torch.zeros(128)
    state["prototype_layer.weight"] = torch.randn(500, 128) * 0.02
    return state, mapping


def write_mgca(folder: Path, vit: bool) -> tuple[Path, dict]:
    state, mapping = _mgca_state(vit_state(4) if vit else resnet50_state(4), 768 if vit else 2048, 768 if vit else 1024)
    hyper = argparse.Namespace(img_encoder="vit_base" if vit else "resnet_50", emb_dim=128, num_prototypes=500, gpus=2)
    path = folder / ("vit_base.ckpt" if vit else "resnet_50.ckpt")
    torch.save(lightning(state, hyper, "1.5.10"), path)
    return path, mapping


def write_asg(folder: Path) -> tuple[Path, dict]:
    state, mapping = _mgca_state(vit_state(5), 768, 768)
    state.update(decoder_state("irl.decoder.", 4, 768, 1024, duplicate_norm="irl.decoder_norm"))
    state["irl.mlp_head.0.weight"] = torch.randn(1, 768) * 0.02
    state["irl.mlp_head.0.bias"] = torch.zeros(1)
    state.update(_prefixed("text_encoder.", bert_state(6, pooler=False))[0])
    path = folder / "asg_vit.ckpt"
    torch.save(lightning(state, {"img_encoder": "vit_base", "lambda_irl": 5.0}, "1.9.0"), path)
    return path, mapping


def write_medklip(folder: Path) -> tuple[Path, dict]:
    image, mapping = _prefixed("module.res_features.", resnet50_state(7, stop_after="layer3"), SEQUENTIAL)
    state = OrderedDict(image)
    for name, shape in (("res_l1", (1024, 1024)), ("res_l2", (256, 1024)), ("disease_embedding_layer", (256, 768)),
                        ("cl_fc", (768, 256)), ("classifier", (2, 256))):
        state[f"module.{name}.weight"] = torch.randn(shape) * 0.02
        state[f"module.{name}.bias"] = torch.zeros(shape[0])
    state.update(decoder_state("module.decoder.", 4, 256, 1024))
    path = folder / "checkpoint_final.pth"
    torch.save({"model": state, "optimizer": {"state": {}}, "lr_scheduler": {"last_epoch": 99},
                "config": {"d_model": 256, "N": 4, "H": 4}, "epoch": 99}, path)
    return path, mapping


def _swin_4x_state(seed: int) -> tuple[OrderedDict, dict]:
    """Swin-Tiny as transformers 4.2x named it (and with its relative_position_index buffers)."""
    ours = _randomise(SwinBackbone().state_dict(), seed)
    state, mapping = OrderedDict(), {}
    back = [(r"attention\.q_proj\.", "attention.self.query."), (r"attention\.k_proj\.", "attention.self.key."),
            (r"attention\.v_proj\.", "attention.self.value."), (r"attention\.o_proj\.", "attention.output.dense."),
            (r"attention\.relative_position_bias\.relative_position_bias_table", "attention.self.relative_position_bias_table"),
            (r"\.mlp\.fc1\.", ".intermediate.dense."), (r"\.mlp\.fc2\.", ".output.dense.")]
    for key, value in ours.items():
        old = key[len("model."):]
        for pattern, replacement in back:
            old = re.sub(pattern, replacement, old)
        state[old] = value
        mapping[key] = old
        if old.endswith("attention.self.relative_position_bias_table"):
            state[old.replace("relative_position_bias_table", "relative_position_index")] = torch.arange(49 * 49).view(49, 49)
    return state, mapping


def write_medclip(folder: Path, vit: bool) -> tuple[Path, dict]:
    if vit:
        vision, mapping = _swin_4x_state(8)
        state, mapping = OrderedDict((f"vision_model.model.{k}", v) for k, v in vision.items()), {k: f"vision_model.model.{v}" for k, v in mapping.items()}
        state["vision_model.projection_head.weight"] = torch.randn(512, 768) * 0.02
    else:
        state, mapping = _prefixed("vision_model.model.", resnet50_state(8))
        state["vision_model.model.fc.weight"] = torch.randn(512, 2048) * 0.02
    state.update(_prefixed("text_model.model.", bert_state(9))[0])
    state["text_model.projection_head.weight"] = torch.randn(512, 768) * 0.02
    state["logit_scale"] = torch.tensor(4.6052)
    name = "medclip-vit-pretrained" if vit else "medclip-pretrained"
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/pytorch_model.bin", buffer.getvalue())
    return path, mapping


def write_kad(folder: Path, size: int = 512) -> tuple[Path, dict]:
    if size == 224:
        backbone = resnet50_state(10, stop_after="layer3")
        image, mapping = _prefixed("res_features.", backbone, SEQUENTIAL)
        full = resnet50_state(11)
        image.update(_prefixed("resnet.", full)[0])
        dim = 1024
    else:
        full = resnet50_state(10)
        image, mapping = _prefixed("resnet.", full)
        image.update(_prefixed("res_features.", full, SEQUENTIAL)[0])  # the same tensors under a second name
        dim = 2048
    image["resnet.fc.weight"], image["resnet.fc.bias"] = torch.randn(1000, 2048) * 0.02, torch.zeros(1000)
    image["res_l1.weight"], image["res_l1.bias"] = torch.randn(dim, dim) * 0.02, torch.zeros(dim)
    image["res_l2.weight"], image["res_l2.bias"] = torch.randn(768, dim) * 0.02, torch.zeros(768)
    text = _prefixed("bert_model.", bert_state(12, vocab=28996))[0]
    text.update({"mlp_embed.0.weight": torch.randn(768, 768) * 0.02, "mlp_embed.0.bias": torch.zeros(768),
                 "mlp_embed.2.weight": torch.randn(768, 768) * 0.02, "mlp_embed.2.bias": torch.zeros(768),
                 "logit_scale": torch.tensor(2.659)})
    tqn = decoder_state("decoder.", 4, 768, 1024, duplicate_norm="decoder_norm")
    tqn.update({"mlp_head.0.weight": torch.randn(2, 768) * 0.02, "mlp_head.0.bias": torch.zeros(2), "logit_scale": torch.tensor(2.659)})
    target = folder / "KAD_Models" / f"KAD_{size}"
    target.mkdir(parents=True, exist_ok=True)
    path = target / "best_valid.pt"
    torch.save({"model": tqn, "image_encoder": image, "text_encoder": text, "optimizer": {}, "lr_scheduler": {},
                "config": {"img_res": size}, "epoch": 50}, path)
    return path, mapping


def write_mrm(folder: Path) -> tuple[Path, dict]:
    encoder = vit_state(13)
    state, mapping = OrderedDict(encoder), {k: k for k in encoder}
    state["mask_token"] = torch.zeros(1, 1, 768)
    state["decoder_embed.weight"], state["decoder_embed.bias"] = torch.randn(768, 768) * 0.02, torch.zeros(768)
    state["decoder_pos_embed"] = torch.zeros(1, 197, 768)
    for i in range(4):
        state[f"decoder_blocks.{i}.attn.qkv.weight"] = torch.randn(2304, 768) * 0.02
        state[f"decoder_blocks.{i}.mlp.fc1.weight"] = torch.randn(3072, 768) * 0.02
    state["decoder_norm.weight"], state["decoder_pred.weight"] = torch.ones(768), torch.randn(3072, 768) * 0.02
    state["bert_mlp.weight"], state["bert_mlp.bias"] = torch.randn(384, 768) * 0.02, torch.zeros(384)
    state["bert_encoder.model.bert.embeddings.word_embeddings.weight"] = torch.randn(30000, 384) * 0.02
    args = argparse.Namespace(model="mrm", mask_ratio=0.75, norm_pix_loss=True, input_size=448)
    path = folder / "MRM.pth"
    torch.save({"model": state, "optimizer": {}, "epoch": 200, "scaler": {"scale": 65536.0}, "args": args}, path)
    return path, mapping


def write_convirt(folder: Path) -> tuple[Path, dict]:
    from omegaconf import OmegaConf

    state, mapping = _prefixed("visual.model.", resnet50_state(14))
    state["vis_proj.0.weight"], state["vis_proj.0.bias"] = torch.randn(768, 2048) * 0.02, torch.zeros(768)
    state["vis_proj.2.weight"], state["vis_proj.2.bias"] = torch.randn(768, 768) * 0.02, torch.zeros(768)
    state["lin_proj.0.weight"], state["lin_proj.0.bias"] = torch.randn(768, 768) * 0.02, torch.zeros(768)
    state["lin_proj.2.weight"], state["lin_proj.2.bias"] = torch.randn(768, 768) * 0.02, torch.zeros(768)
    state.update(_prefixed("linguistic.encoder.", bert_state(15, vocab=50265, position_ids=False))[0])
    path = folder / "ConVIRT.pth"
    torch.save({"model": state, "training_scheduler": {}, "optimizer": {}, "config": OmegaConf.create({"name": "convirt"}),
                "scaler": None, "__version__": "1.3.2"}, path)
    return path, mapping


def write_imagenet_r50(folder: Path) -> tuple[Path, dict]:
    state = resnet50_state(16)
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 2048) * 0.02, torch.zeros(1000)
    path = folder / "resnet50-11ad3fa6.pth"
    torch.save(state, path)
    return path, {k: k for k in state if not k.startswith("fc.")}


def write_imagenet_vit(folder: Path) -> tuple[Path, dict]:
    state = vit_state(17)
    full = OrderedDict(state)
    full["head.weight"], full["head.bias"] = torch.randn(1000, 768) * 0.02, torch.zeros(1000)
    path = folder / "deit_base_patch16_224-b5f2ef4d.pth"
    torch.save({"model": full}, path)
    return path, {k: k for k in state}


WRITERS = {
    "gloria": write_gloria,
    "mgca-r50": lambda f: write_mgca(f, vit=False),
    "mgca-vit": lambda f: write_mgca(f, vit=True),
    "asg-vit": write_asg,
    "medklip": write_medklip,
    "medclip-r50": lambda f: write_medclip(f, vit=False),
    "medclip-vit": lambda f: write_medclip(f, vit=True),
    "kad": write_kad,
    "kad-224": lambda f: write_kad(f, 224),
    "mrm": write_mrm,
    "convirt": write_convirt,
    "imagenet-r50": write_imagenet_r50,
    "imagenet-vit": write_imagenet_vit,
}


class Payload:
    """Unpickling this runs os.system: a checkpoint that carries code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def write_malicious(folder: Path, marker: Path) -> Path:
    state, _ = _prefixed("img_encoder_q.model.", resnet50_state(18))
    path = folder / "malicious.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"trap": Payload(marker)}}, path)
    return path


__all__ = ["WRITERS", "write_malicious", "nn"]
