"""The paper's recipe, one row per paper config (not a test module).

``RECIPES`` (the paper's section 4.1, with the readings docs/method.md
states) covers every config under ``configs/promptpose`` but the tiny CPU
ones.
``test_recipes.py`` checks each config against its row, ``test_configs.py``
trains and predicts with each, ``test_model_index.py`` checks the model zoo's
numbers against it.
"""
from typing import NamedTuple, Optional


class Row(NamedTuple):
    """One config of the paper's recipe."""
    model: str  # 'promptpose', a Table 5 ablation or 'simplebaseline'
    backbone: str  # 'clip-rn50', 'clip-vit-b16' or 'res50' (ImageNet)
    data: str  # 'ap10k', 'ap10k-20shot' or 'coco' (the pre-training)
    coco_pre: bool  # fine-tuned from the COCO checkpoint
    batch: int  # total batch
    lr: float  # base learning rate
    ap: Optional[float]  # AP-10K val AP the paper reports
    table: Optional[str]  # where the paper reports it


PP, SB = 'promptpose', 'simplebaseline'
R50, VIT, IN50 = 'clip-rn50', 'clip-vit-b16', 'res50'
FULL, SHOT, COCO = 'ap10k', 'ap10k-20shot', 'coco'
T1, T2, T3, T4, T5 = 'Table 1', 'Table 2', 'Table 3', 'Table 4', 'Table 5'
RECIPES = {
    # Table 1, supervised: batch 128, lr 5e-4 (ViT: backbone x 0.1)
    'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256':
    Row(PP, R50, FULL, False, 128, 5e-4, 0.729, T1),
    'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256':
    Row(PP, VIT, FULL, False, 128, 5e-4, 0.731, T1),
    'td-hm_clip-rn50_8xb16-210e_ap10k-256x256':
    Row(SB, R50, FULL, False, 128, 5e-4, 0.709, T1),
    'td-hm_clip-vit-b16_8xb16-210e_ap10k-256x256':
    Row(SB, VIT, FULL, False, 128, 5e-4, 0.726, T1),
    'td-hm_res50_8xb16-210e_ap10k-256x256':
    Row(SB, IN50, FULL, False, 128, 5e-4, 0.702, T1),
    # Table 5, ablations with CLIP ResNet-50
    'td-hm_promptpose-clip-rn50-pixel_8xb16-210e_ap10k-256x256':
    Row('pixel', R50, FULL, False, 128, 5e-4, 0.721, T5),
    'td-hm_promptpose-clip-rn50-pixel-semantic_8xb16-210e_ap10k-256x256':
    Row('pixel-semantic', R50, FULL, False, 128, 5e-4, 0.726, T5),
    'td-hm_promptpose-clip-rn50-pixel-promptenc_8xb16-210e_ap10k-256x256':
    Row('pixel-promptenc', R50, FULL, False, 128, 5e-4, 0.723, T5),
    'td-hm_promptpose-clip-rn50-all_8xb16-210e_ap10k-256x256':
    Row(PP, R50, FULL, False, 128, 5e-4, 0.729, T5),
    # Table 2, 20-shot: ResNet-50 batch 64, lr 5e-4; ViT-B
    # batch 128, lr 5e-5
    'td-hm_promptpose-clip-rn50_8xb8-210e_ap10k-20shot-256x256':
    Row(PP, R50, SHOT, False, 64, 5e-4, 0.540, T2),
    'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-20shot-256x256':
    Row(PP, VIT, SHOT, False, 128, 5e-5, 0.586, T2),
    'td-hm_clip-rn50_8xb8-210e_ap10k-20shot-256x256':
    Row(SB, R50, SHOT, False, 64, 5e-4, 0.518, T2),
    'td-hm_clip-vit-b16_8xb16-210e_ap10k-20shot-256x256':
    Row(SB, VIT, SHOT, False, 128, 5e-5, 0.574, T2),
    'td-hm_res50_8xb8-210e_ap10k-20shot-256x256':
    Row(SB, IN50, SHOT, False, 64, 5e-4, 0.511, T2),
    # COCO pre-training: batch 512, lr 5e-4 (ResNet-50) / 2e-4 (ViT-B)
    'td-hm_promptpose-clip-rn50_8xb64-210e_coco-256x192':
    Row(PP, R50, COCO, False, 512, 5e-4, None, None),
    'td-hm_promptpose-clip-vit-b16_8xb64-210e_coco-256x192':
    Row(PP, VIT, COCO, False, 512, 2e-4, None, None),
    'td-hm_clip-rn50_8xb64-210e_coco-256x192':
    Row(SB, R50, COCO, False, 512, 5e-4, None, None),
    'td-hm_clip-vit-b16_8xb64-210e_coco-256x192':
    Row(SB, VIT, COCO, False, 512, 2e-4, None, None),
    'td-hm_res50_8xb64-210e_coco-256x192':
    Row(SB, IN50, COCO, False, 512, 5e-4, None, None),
    # Table 3, fine-tuned on AP-10K after COCO: lr 6e-4 / 5e-5
    'td-hm_promptpose-clip-rn50_coco-pre_8xb16-210e_ap10k-256x256':
    Row(PP, R50, FULL, True, 128, 6e-4, 0.752, T3),
    'td-hm_promptpose-clip-vit-b16_coco-pre_8xb16-210e_ap10k-256x256':
    Row(PP, VIT, FULL, True, 128, 5e-5, 0.742, T3),
    'td-hm_clip-rn50_coco-pre_8xb16-210e_ap10k-256x256':
    Row(SB, R50, FULL, True, 128, 6e-4, 0.744, T3),
    'td-hm_clip-vit-b16_coco-pre_8xb16-210e_ap10k-256x256':
    Row(SB, VIT, FULL, True, 128, 5e-5, 0.739, T3),
    'td-hm_res50_coco-pre_8xb16-210e_ap10k-256x256':
    Row(SB, IN50, FULL, True, 128, 6e-4, 0.724, T3),
    # Table 4, 20-shot after COCO: the few-shot recipe
    'td-hm_promptpose-clip-rn50_coco-pre_8xb8-210e_ap10k-20shot-256x256':
    Row(PP, R50, SHOT, True, 64, 5e-4, 0.626, T4),
    'td-hm_promptpose-clip-vit-b16_coco-pre_8xb16-210e_ap10k-20shot-256x256':
    Row(PP, VIT, SHOT, True, 128, 5e-5, 0.641, T4),
    'td-hm_clip-rn50_coco-pre_8xb8-210e_ap10k-20shot-256x256':
    Row(SB, R50, SHOT, True, 64, 5e-4, 0.624, T4),
    'td-hm_clip-vit-b16_coco-pre_8xb16-210e_ap10k-20shot-256x256':
    Row(SB, VIT, SHOT, True, 128, 5e-5, 0.638, T4),
    'td-hm_res50_coco-pre_8xb8-210e_ap10k-20shot-256x256':
    Row(SB, IN50, SHOT, True, 64, 5e-4, 0.607, T4),
}
