"""Feature fusion pyramid (paper, section 3.3) on a Detectron2 ResNet."""
from typing import Dict, List, Optional

from torch import Tensor, nn

from fvcore.nn import weight_init
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from ..seeded_init import module_rng
from .top_levels import MaxPoolTopLevels

PSI_INITS = ("xavier", "zero")


class FBlock(nn.Module):
    """F-block, Eq. 1: ``phi_i' = phi_i * Psi(phi_{i+1}') + phi_i``.

    ``Psi`` is one transposed convolution that maps the fused deeper map to the
    shallower map's channels and (2x) resolution in one step. Kernel 2, stride 2
    is the smallest transposed conv that doubles the size exactly: no overlapping
    windows (no checkerboard) and 4x fewer parameters than kernel 4 (for R50 the
    res5 -> res4 Psi alone is 8.4M parameters at kernel 2, 33.6M at kernel 4).
    ``psi_init``:

    - "xavier": the paper's "initialized with xavier" (3.4) in the sense of Detectron,
      its framework: XavierFill, uniform with bound sqrt(3 / fan_in), bias 0. The block
      then starts as a random gate: (1 + Psi) < 0, a sign flip of the shallow feature,
      at 14-23 % of the positions of a ResNet's res4 ... res2, three gates deep at P2.
    - "zero": Psi's weight and bias 0, so the block starts as the identity
      ``phi_i' = phi_i`` (the backbone's features pass unchanged) and learns its
      fusion, as zero-initialised residual branches do; the gradient still reaches
      Psi (d phi_i' / d Psi = phi_i), so training is not stuck at the identity.
    """

    def __init__(self, deep_channels: int, shallow_channels: int, kernel_size: int = 2,
                 psi_init: str = "xavier"):
        super().__init__()
        if kernel_size not in (2, 4):
            raise ValueError(f"F-block transposed conv kernel must be 2 or 4, got {kernel_size}")
        if psi_init not in PSI_INITS:
            raise ValueError(f"F-block Psi init must be one of {PSI_INITS}, got {psi_init!r}")
        self.psi = nn.ConvTranspose2d(
            deep_channels, shallow_channels, kernel_size, stride=2, padding=(kernel_size - 2) // 2
        )
        if psi_init == "xavier":
            weight_init.c2_xavier_fill(self.psi)
        else:
            nn.init.zeros_(self.psi.weight)
            nn.init.zeros_(self.psi.bias)

    def forward(self, shallow: Tensor, deep: Tensor) -> Tensor:
        """shallow: (N, C_i, H, W); deep: (N, C_{i+1}, ceil(H/2), ceil(W/2)) -> (N, C_i, H, W)."""
        context = self.psi(deep)[..., : shallow.shape[-2], : shallow.shape[-1]]
        return shallow * context + shallow


class FFP(Backbone):
    """ResNet -> F-blocks from the top down -> per-level 3x3 projection -> max-pooled tops.

    Outputs ``p2 ... p5`` (the strides of the input features) plus ``num_top_levels``
    max-pooled levels, all with ``out_channels`` channels, named as Detectron2's FPN
    names them, so heads written for FPN take them unchanged.
    """

    def __init__(
        self,
        bottom_up: Backbone,
        in_features: List[str],
        out_channels: int,
        norm: str = "",
        num_top_levels: int = 2,
        deconv_kernel: int = 2,
        psi_init: str = "xavier",
        init_seed: Optional[int] = None,
    ):
        """``init_seed``: each new module draws its init from its own stream (see
        :func:`module_rng`); None or < 0: the global stream, in build order."""
        super().__init__()
        shapes = bottom_up.output_shape()
        strides = [shapes[f].stride for f in in_features]
        channels = [shapes[f].channels for f in in_features]
        if any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(f"FFP needs input strides doubling level to level, got {strides}")
        self.bottom_up = bottom_up
        self.in_features = list(in_features)
        # Top-down order: fblocks[i] fuses level len - 2 - i with the fused level above it.
        self.top_down_features = tuple(reversed(in_features[:-1]))  # static, for scripting
        self.fblocks = nn.ModuleList()
        for i, (shallow, deep) in enumerate(reversed(list(zip(channels, channels[1:])))):
            with module_rng(init_seed, f"backbone.fblocks.{i}"):
                self.fblocks.append(FBlock(deep, shallow, deconv_kernel, psi_init))
        self.projections = nn.ModuleList()
        for i, c in enumerate(channels):
            with module_rng(init_seed, f"backbone.projections.{i}"):
                proj = Conv2d(c, out_channels, 3, padding=1, bias=not norm, norm=get_norm(norm, out_channels))
                weight_init.c2_xavier_fill(proj)
            self.projections.append(proj)
        self.top_levels = MaxPoolTopLevels(num_top_levels)

        levels = [len(bin(s)) - 3 for s in strides]  # log2 of each stride
        levels += list(range(levels[-1] + 1, levels[-1] + 1 + num_top_levels))
        self._out_features = [f"p{lvl}" for lvl in levels]
        self._out_feature_strides = {f"p{lvl}": 2**lvl for lvl in levels}
        self._out_feature_channels = {f: out_channels for f in self._out_features}
        self._size_divisibility = 2 ** levels[-1]

    @property
    def size_divisibility(self) -> int:
        """The coarsest stride: padding to it makes every level exactly half the one below."""
        return self._size_divisibility

    @property
    def padding_constraints(self) -> Dict[str, int]:
        return {"size_divisibility": self._size_divisibility, "square_size": 0}

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        """x: (N, 3, H, W) -> {"p2": (N, C, H/4, W/4), ..., "p7": (N, C, H/128, W/128)}."""
        bottom_up = self.bottom_up(x)
        deep = bottom_up[self.in_features[-1]]
        fused = [deep]  # top down, recursive: each F-block takes the level above, fused
        for name, fblock in zip(self.top_down_features, self.fblocks):
            deep = fblock(bottom_up[name], deep)
            fused.append(deep)
        fused = fused[::-1]
        outputs: List[Tensor] = []
        for i, proj in enumerate(self.projections):
            outputs.append(proj(fused[i]))
        outputs.extend(self.top_levels(outputs[-1]))
        return {name: out for name, out in zip(self._out_features, outputs)}

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return {
            f: ShapeSpec(channels=self._out_feature_channels[f], stride=self._out_feature_strides[f])
            for f in self._out_features
        }


@BACKBONE_REGISTRY.register()
def build_resnet_ffp_backbone(cfg, input_shape: ShapeSpec) -> FFP:
    """ResNet (``MODEL.RESNETS``) with a feature fusion pyramid (``MODEL.FFP``); every
    module's init drawn from its own stream of ``SEED`` (:func:`module_rng`)."""
    with module_rng(cfg.SEED, "backbone.bottom_up"):
        bottom_up = build_resnet_backbone(cfg, input_shape)
    return FFP(
        bottom_up,
        in_features=cfg.MODEL.FFP.IN_FEATURES,
        out_channels=cfg.MODEL.FFP.OUT_CHANNELS,
        norm=cfg.MODEL.FFP.NORM,
        num_top_levels=cfg.MODEL.FFP.NUM_TOP_LEVELS,
        deconv_kernel=cfg.MODEL.FFP.DECONV_KERNEL,
        psi_init=cfg.MODEL.FFP.PSI_INIT,
        init_seed=cfg.SEED,
    )
