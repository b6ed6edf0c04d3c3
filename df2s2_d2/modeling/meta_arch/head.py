"""DF2S2 head: Detectron2's RetinaNetHead with one tower shared by the cls, box,
(training-only) seg and (optional) landmark predictors."""
import math
from typing import List, Optional, Tuple

from fvcore.nn import weight_init
from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec

from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from df2s2_deploy.face_landmarks import NUM_LANDMARKS

from ..seeded_init import module_rng

TOWER_INITS = ("xavier", "normal")


class DF2S2Head(RetinaNetHead):
    """Dense head of the paper (sections 3.1, 3.2), shared across all pyramid levels.

    Built on :class:`RetinaNetHead`: its module names (``cls_subnet``, ``bbox_subnet``,
    ``cls_score``, ``bbox_pred``), its norms (per-level BN for "BN" / "SyncBN") and its
    predictor init (normal, std 0.01, cls bias prior). Adds:

    - ``shared_tower``: ``cls_subnet`` is the one tower feeding the cls, box and seg
      predictors (the paper) and ``bbox_subnet`` is None; False keeps RetinaNet's
      two towers, the seg predictor then on the cls tower.
    - ``seg_head``: ``seg_pred``, a 3x3 conv to K channels, run only by
      :meth:`forward_with_seg` (training), so the eval / export graph is RetinaNet's.
    - ``tower_init``: "xavier" (the paper, 3.4: Detectron's XavierFill, uniform with
      bound sqrt(3 / fan_in)) or "normal" (RetinaNet's std 0.01) for the tower convs.
      Every ablation variant, the RetinaNet baseline included, uses this one key.
    - ``landmarks``: ``landmark_pred``, a 3x3 conv to A x 10 channels (five points per
      anchor, RetinaFace's encoding) on the box tower (the shared tower by default),
      init as ``bbox_pred``. Off: the module does not exist, and the head, its
      checkpoints and its graph are those of a head without the option.
    - ``init_seed``: every module (``cls_subnet``, ``bbox_subnet``, ``cls_score``,
      ``bbox_pred``, ``seg_pred``) is initialised from its own stream of this seed
      (:func:`module_rng`), so variants under one seed share the weights of the modules
      they have in common. None or < 0: RetinaNetHead's init from the global stream,
      then the Xavier towers and the seg predictor, in that order.
    """

    @configurable
    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        num_classes: int,
        num_anchors: int,
        conv_dims: List[int],
        norm="",
        prior_prob: float = 0.01,
        shared_tower: bool = True,
        seg_head: bool = True,
        tower_init: str = "xavier",
        init_seed: Optional[int] = None,
        landmarks: bool = False,
    ):
        super().__init__(
            input_shape=input_shape,
            num_classes=num_classes,
            num_anchors=num_anchors,
            conv_dims=conv_dims,
            norm=norm,
            prior_prob=prior_prob,
        )
        if tower_init not in TOWER_INITS:
            raise ValueError(f"tower_init must be one of {TOWER_INITS}, got {tower_init!r}")
        if any(s.channels != input_shape[0].channels for s in input_shape):
            raise ValueError(f"All head input levels need one width, got {input_shape}")
        self.seg_pred = (
            nn.Conv2d(conv_dims[-1], num_classes, kernel_size=3, stride=1, padding=1)
            if seg_head
            else None
        )
        self._initialise(tower_init, prior_prob, init_seed)
        self.landmark_pred = None
        if landmarks:  # built last: without paired init, the other modules' draws stay as they were
            self.landmark_pred = nn.Conv2d(
                conv_dims[-1], num_anchors * 2 * NUM_LANDMARKS, kernel_size=3, stride=1, padding=1
            )
            with module_rng(init_seed, "head.landmark_pred"):
                nn.init.normal_(self.landmark_pred.weight, std=0.01)
                nn.init.constant_(self.landmark_pred.bias, 0)
        if shared_tower:
            self.bbox_subnet = None

    def _initialise(self, tower_init: str, prior_prob: float, init_seed: Optional[int]) -> None:
        """Towers: Xavier or normal (std 0.01), bias 0; predictors: normal (std 0.01),
        bias 0, the cls and seg biases at the prior (sparse targets: start at the prior)."""
        prior_bias = -math.log((1 - prior_prob) / prior_prob)
        paired = init_seed is not None and init_seed >= 0
        for name in ("cls_subnet", "bbox_subnet", "cls_score", "bbox_pred", "seg_pred"):
            module = getattr(self, name)
            is_tower = name.endswith("subnet")
            if module is None or not (paired or name == "seg_pred" or (is_tower and tower_init == "xavier")):
                continue  # unpaired: RetinaNetHead's own init stays
            with module_rng(init_seed, f"head.{name}"):
                for layer in module.modules():
                    if not isinstance(layer, nn.Conv2d):
                        continue
                    if is_tower and tower_init == "xavier":
                        weight_init.c2_xavier_fill(layer)
                    else:
                        nn.init.normal_(layer.weight, std=0.01)
                        nn.init.constant_(layer.bias, 0)
            if name in ("cls_score", "seg_pred"):
                nn.init.constant_(module.bias, prior_bias)

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        ret.update(
            shared_tower=cfg.MODEL.DF2S2.SHARED_TOWER,
            seg_head=cfg.MODEL.DF2S2.SEG_HEAD,
            tower_init=cfg.MODEL.DF2S2.TOWER_INIT,
            init_seed=cfg.SEED,
            landmarks=cfg.MODEL.DF2S2.LANDMARKS,
        )
        return ret

    def forward(self, features: List[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """features: per level (N, C, H_l, W_l) -> per level cls logits (N, A*K, H_l, W_l)
        and box deltas (N, A*4, H_l, W_l), as RetinaNetHead (landmarks: :meth:`predict`)."""
        logits, deltas, _, _ = self.predict(features, with_seg=False)
        return logits, deltas

    def forward_with_seg(self, features: List[Tensor]) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """As :meth:`forward`, plus per level seg logits (N, K, H_l, W_l) (training)."""
        return self.predict(features, with_seg=True)[:3]

    def predict(
        self, features: List[Tensor], with_seg: bool
    ) -> Tuple[List[Tensor], List[Tensor], List[Tensor], List[Tensor]]:
        """Per level cls logits, box deltas, seg logits (empty unless ``with_seg`` and the
        seg predictor exists) and landmark offsets (N, A*10, H_l, W_l) (empty without the
        landmark predictor)."""
        logits: List[Tensor] = []
        deltas: List[Tensor] = []
        seg_logits: List[Tensor] = []
        landmarks: List[Tensor] = []
        for feature in features:
            cls_feature = self.cls_subnet(feature)
            if self.bbox_subnet is None:
                box_feature = cls_feature
            else:
                box_feature = self.bbox_subnet(feature)
            logits.append(self.cls_score(cls_feature))
            deltas.append(self.bbox_pred(box_feature))
            if with_seg and self.seg_pred is not None:
                seg_logits.append(self.seg_pred(cls_feature))
            if self.landmark_pred is not None:
                landmarks.append(self.landmark_pred(box_feature))
        return logits, deltas, seg_logits, landmarks
