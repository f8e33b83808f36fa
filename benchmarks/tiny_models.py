"""Tiny random-weight models in the layout of real ones, built locally for tests and benchmarks.

Each builder makes a small config with random weights and a tokenizer trained here on the given
words (``tokenizers``), then ``save_pretrained`` to a folder, which the perception backends load
through the same ``from_pretrained`` path a user's real weights take. Nothing is downloaded; the
boxes such a model finds are meaningless, its cost per frame is the point.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch

_BPE_SPECIALS = ["<unused>", "<|startoftext|>", "<|endoftext|>"]  # OWL masks queries whose first id is 0
_WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _corpus(words: Sequence[str]) -> list[str]:
    return [" ".join(words) + " . a photo of"] * 3


def _clip_tokenizer(words: Sequence[str]) -> Any:
    """A CLIPTokenizer whose byte-pair vocabulary and merges are trained here on ``words``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    tokenizer = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(_corpus(words), trainers.BpeTrainer(
        vocab_size=400, special_tokens=_BPE_SPECIALS, end_of_word_suffix="</w>", show_progress=False))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
              for m in json.loads(tokenizer.to_str())["model"]["merges"]]
    return CLIPTokenizer(vocab=tokenizer.get_vocab(), merges=merges)  # type: ignore[arg-type]  # pairs, as tokenizers takes


def _bert_tokenizer(words: Sequence[str]) -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(_corpus(words), trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=_WORDPIECE_SPECIALS, show_progress=False))
    return BertTokenizer(vocab=tokenizer.get_vocab())


def build_owlv2(folder: Path, words: Sequence[str], seed: int = 0) -> Path:
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    torch.manual_seed(seed)
    tokenizer = _clip_tokenizer(words)
    config = Owlv2Config(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16),
        projection_dim=32)
    Owlv2ForObjectDetection(config).save_pretrained(folder)
    Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
                   tokenizer=tokenizer).save_pretrained(folder)
    return Path(folder)


def build_grounding_dino(folder: Path, words: Sequence[str], seed: int = 0) -> Path:
    from transformers import (
        BertConfig,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    torch.manual_seed(seed)
    tokenizer = _bert_tokenizer(words)
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
                                   image_size=64, out_features=["stage2", "stage3", "stage4"]),  # type: ignore[call-arg]
        text_config=BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=37, max_position_embeddings=256),
        d_model=32, encoder_layers=1, decoder_layers=2,  # decoder_layers >= 2, else tie_weights fails
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        num_queries=20, num_feature_levels=3, max_text_len=256, encoder_n_points=2, decoder_n_points=2,
        use_timm_backbone=False)  # type: ignore[call-arg]  # transformers' annotations lag its configs
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
                           tokenizer=tokenizer).save_pretrained(folder)
    return Path(folder)


def build_sam(folder: Path, seed: int = 0) -> Path:
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    torch.manual_seed(seed)
    config = SamConfig(
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16, output_channels=32, window_size=2, global_attn_indexes=[1],
                           num_pos_feats=16, mlp_dim=37),  # num_pos_feats = hidden_size / 2
        prompt_encoder_config=dict(hidden_size=32, image_embedding_size=4, image_size=64, patch_size=16,
                                   mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2,
                                 iou_head_hidden_dim=16))
    SamModel(config).save_pretrained(folder)
    SamProcessor(image_processor=SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
                                                   mask_size={"longest_edge": 16},
                                                   mask_pad_size={"height": 16, "width": 16})).save_pretrained(folder)
    return Path(folder)


# A chat template in the shape real VLM processors carry: content parts, one <image> per image part.
_VLM_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ '\\n' }}{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{{ '\\n' }}{% endif %}")


def _byte_tokenizer(corpus: Sequence[str], specials: Sequence[str]) -> Any:
    """A byte-level BPE tokenizer trained here on ``corpus``, with the image tokens as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(list(corpus), trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<eos>", "<pad>", *specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>", pad_token="<pad>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(specials)})
    return tokenizer


def _tiny_llama(vocab_size: int) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192)


def build_llava(folder: Path, corpus: Sequence[str], seed: int = 0) -> Path:
    """LLaVA's layout (``LlavaForConditionalGeneration``: CLIP vision tower + Llama), 4 tokens per image."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(seed)
    tokenizer = _byte_tokenizer(corpus, ["<image>"])
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                                       image_size=32, patch_size=16, projection_dim=32),
        text_config=_tiny_llama(len(tokenizer)), image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-1)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default",
                   num_additional_image_tokens=1, chat_template=_VLM_TEMPLATE).save_pretrained(folder)
    return Path(folder)


def build_idefics3(folder: Path, corpus: Sequence[str], seed: int = 0) -> Path:
    """Idefics3's layout (SmolVLM's architecture: SigLIP-style vision tower + pixel shuffle + Llama),
    one 32x32 image without splitting, 4 tokens per image."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    torch.manual_seed(seed)
    tokenizer = _byte_tokenizer(corpus, ["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"])
    config = Idefics3Config(
        vision_config=Idefics3VisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                           num_attention_heads=4, image_size=32, patch_size=8),
        text_config=_tiny_llama(len(tokenizer)), image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    Idefics3Processor(image_processor=Idefics3ImageProcessor(do_image_splitting=False, size={"longest_edge": 32},
                                                             max_image_size={"longest_edge": 32}),
                      tokenizer=tokenizer, image_seq_len=4, chat_template=_VLM_TEMPLATE).save_pretrained(folder)
    return Path(folder)
