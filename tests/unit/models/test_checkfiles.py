"""What a model directory's headers and config say, checked against each other and against the dense model's,
without loading the weights (`models.checkfiles`, `models.pairing.parameter_relation`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.models.checkfiles import check_layers, projection_shapes
from pytest_kick.models.pairing import facts, parameter_relation

CONFIG = {"model_type": "llama", "hidden_size": 8, "num_attention_heads": 2, "num_key_value_heads": 1,
          "intermediate_size": 16, "num_hidden_layers": 2, "vocab_size": 10}  # fmt: skip


def llama_tensors(config: dict = CONFIG, layers: int = 2, inner: int = 16) -> dict[str, np.ndarray]:
    width, kv = config["hidden_size"], config["num_key_value_heads"] * config["hidden_size"] // config["num_attention_heads"]
    out = {"model.embed_tokens.weight": np.zeros((10, width), np.float32), "lm_head.weight": np.zeros((10, width), np.float32)}
    shapes = {"self_attn.q_proj": (width, width), "self_attn.k_proj": (kv, width), "self_attn.v_proj": (kv, width),
              "self_attn.o_proj": (width, width), "mlp.gate_proj": (inner, width), "mlp.up_proj": (inner, width),
              "mlp.down_proj": (width, inner), "input_layernorm": (width,)}  # fmt: skip
    for i in range(layers):
        out |= {f"model.layers.{i}.{name}.weight": np.zeros(shape, np.float32) for name, shape in shapes.items()}
    return out


def shapes(tensors: dict) -> dict:
    return {k: {"shape": list(v.shape), "dtype": "F32"} for k, v in tensors.items()}


def test_the_config_implies_every_projection_shape_and_the_weights_must_hold_them():
    assert projection_shapes(CONFIG) == {"q_proj": (8, 8), "k_proj": (4, 8), "v_proj": (4, 8), "o_proj": (8, 8),
                                         "gate_proj": (16, 8), "up_proj": (16, 8), "down_proj": (8, 16)}  # fmt: skip
    check_layers("m", CONFIG, shapes(llama_tensors()))
    with pytest.raises(KickUsageError, match="the weights hold 2 decoder layers but config.json says 4"):
        check_layers("m", {**CONFIG, "num_hidden_layers": 4}, shapes(llama_tensors()))
    with pytest.raises(KickUsageError, match=r"model.layers.0.mlp.down_proj.weight is 8 x 16 but config.json implies 8 x 32"):
        check_layers("m", {**CONFIG, "intermediate_size": 32}, shapes(llama_tensors()))
    with pytest.raises(KickUsageError, match=r"k_proj.weight is 4 x 8 but config.json implies 8 x 8"):
        check_layers("m", {**CONFIG, "num_key_value_heads": 2}, shapes(llama_tensors()))
    check_layers("m", {**CONFIG, "intermediate_size": 32, "quantization_config": {}}, shapes(llama_tensors()))  # packed
    check_layers("m", {"text_config": CONFIG, "model_type": "llava"}, shapes(llama_tensors(layers=3)))  # other towers


def save(folder: Path, tensors: dict, config: dict = CONFIG) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_compressed_model_keeps_the_dense_layers_and_never_grows(tmp_path):
    dense = facts(save(tmp_path / "dense", llama_tensors()))
    assert parameter_relation(dense, dense) is None
    pruned = facts(save(tmp_path / "pruned", llama_tensors(inner=12), {**CONFIG, "intermediate_size": 12}))
    assert parameter_relation(dense, pruned) is None  # structured pruning shrinks the MLP
    grown = facts(save(tmp_path / "grown", llama_tensors(inner=24)))
    assert "model.layers.0.mlp.down_proj.weight is 8 x 24 in the compressed model but 8 x 16 in the dense one" in str(
        parameter_relation(dense, grown)
    )
    deeper = facts(save(tmp_path / "deeper", llama_tensors(layers=3)))
    assert "'model.layers.2." in str(parameter_relation(dense, deeper))
    packed = {k.replace("q_proj.weight", "q_proj.qweight"): v for k, v in llama_tensors().items()}
    packed["model.layers.0.self_attn.k_proj.weight.absmax"] = np.zeros(4, np.float32)  # bitsandbytes' naming
    gptq = facts(save(tmp_path / "gptq", packed, {**CONFIG, "quantization_config": {"quant_method": "gptq"}}))
    assert parameter_relation(dense, gptq) is None
    stray = facts(save(tmp_path / "stray", {**packed, "model.layers.7.mlp.up_proj.qweight": np.zeros(2, np.int32)},
                       {**CONFIG, "quantization_config": {"quant_method": "gptq"}}))  # fmt: skip
    assert (
        parameter_relation(dense, stray)
        == "the compressed checkpoint has 'model.layers.7.mlp.up_proj.qweight', from no layer of the dense model"
    )
