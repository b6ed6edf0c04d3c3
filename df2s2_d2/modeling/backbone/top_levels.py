"""Extra coarse pyramid levels made by max-pooling the top output level."""
from typing import List

import torch.nn.functional as F
from torch import Tensor, nn


class MaxPoolTopLevels(nn.Module):
    """P6 (and P7, ...) as repeated 2x2 / stride-2 max-pooling of the top level.

    The paper max-pools FFP5 twice to get FFP6 and FFP7. A 2x2 window with
    ``ceil_mode`` halves any size exactly (ceil(n / 2)), so strides stay 64, 128.
    Implements Detectron2's FPN ``top_block`` interface (``num_levels``,
    ``in_feature``), so the baseline FPN uses the very same module.
    """

    def __init__(self, num_levels: int, in_feature: str = "p5"):
        super().__init__()
        self.num_levels = num_levels
        self.in_feature = in_feature

    def forward(self, x: Tensor) -> List[Tensor]:
        """x: (N, C, H, W) -> num_levels maps (N, C, ceil(H / 2^k), ceil(W / 2^k))."""
        outputs = []
        for _ in range(self.num_levels):
            x = F.max_pool2d(x, kernel_size=2, stride=2, ceil_mode=True)
            outputs.append(x)
        return outputs
