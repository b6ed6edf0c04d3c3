"""`FaceDetector`: a DF2S2 (or any model of this project's configs) behind one call,
``detect(images)``, for code that does not use Detectron2 itself."""
import logging
import os
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from detectron2.config import CfgNode
from detectron2.data import transforms as T
from detectron2.modeling import build_model

from df2s2_deploy.detections import Detections
from df2s2_deploy.preprocessing import check_image_array, to_model_format

from .amp import amp_dtype, inference_autocast
from .checkpoint import load_weights
from .config import get_df2s2_cfg
from .data.image_reading import read_image
from .modeling.test_time_augmentation import DF2S2WithTTA

__all__ = ["FaceDetector"]

ImageInput = Union[str, "os.PathLike[str]", np.ndarray]

logger = logging.getLogger(__name__)


class FaceDetector:
    """Load a detector once, then ``detect(image)`` -> `Detections` (boxes, scores, and the
    five landmarks of a model trained with ``MODEL.DF2S2.LANDMARKS``, except with ``tta``).

    Args:
        cfg_or_config_file: a config (``get_df2s2_cfg``) or the path (str or PathLike) of
            a config file.
        weights: checkpoint path or URL (Detectron2's ``DetectionCheckpointer``);
            default ``MODEL.WEIGHTS`` of the config. A bad file is an error naming it.
        device: "cpu", "cuda", ...
        score_threshold: keep detections above it (``MODEL.RETINANET.SCORE_THRESH_TEST``).
        min_size, max_size: test size, shorter side and cap of the longer side
            (``INPUT.MIN_SIZE_TEST`` / ``INPUT.MAX_SIZE_TEST``).
        tta: multi-scale and flip testing (``TEST.AUG``: sizes, flip, merge).
        batch_size: images per forward pass. Images of one batch are padded to a common
            size, as in Detectron2, which can change detections slightly at the borders;
            1 gives exactly the single-image results.
        input_format: channel order of the numpy images given to `detect`: "BGR"
            (OpenCV's) or "RGB". Paths are read from disk in the model's order.
        amp: run the model under autocast: float16 on CUDA, bfloat16 on the CPU (said
            in the log); detections are float32 either way.
    """

    def __init__(
        self,
        cfg_or_config_file: Union[CfgNode, str, "os.PathLike[str]"],
        weights=None,
        device: str = "cpu",
        *,
        score_threshold: Optional[float] = None,
        min_size: Optional[int] = None,
        max_size: Optional[int] = None,
        tta: bool = False,
        batch_size: int = 1,
        input_format: str = "BGR",
        amp: bool = False,
    ):
        if isinstance(cfg_or_config_file, (str, os.PathLike)):
            cfg_or_config_file = os.fspath(cfg_or_config_file)
            if not os.path.isfile(cfg_or_config_file):
                raise FileNotFoundError(f"{cfg_or_config_file}: no such config file")
            cfg = get_df2s2_cfg(cfg_or_config_file)
        else:
            cfg = cfg_or_config_file.clone()
        cfg.defrost()
        cfg.MODEL.DEVICE = device
        if weights is not None:
            cfg.MODEL.WEIGHTS = os.fspath(weights)
        if score_threshold is not None:
            cfg.MODEL.RETINANET.SCORE_THRESH_TEST = score_threshold
        if min_size is not None:
            cfg.INPUT.MIN_SIZE_TEST = min_size
        if max_size is not None:
            cfg.INPUT.MAX_SIZE_TEST = max_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        cfg.freeze()
        self.cfg = cfg
        self.input_format = input_format
        self.batch_size = batch_size
        self.amp = amp
        if amp:
            logger.info(f"FaceDetector: autocast to {amp_dtype(device)} on {device}")
        self.model = build_model(cfg).eval()
        if cfg.MODEL.WEIGHTS:
            load_weights(self.model, cfg.MODEL.WEIGHTS)
        self.tta = DF2S2WithTTA(cfg, self.model, batch_size) if tta else None
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)

    def detect(
        self, images: Union[ImageInput, Sequence[ImageInput]]
    ) -> Union[Detections, List[Detections]]:
        """Detections of one image (a str / PathLike path or an (H, W, 3) uint8 array) or of
        a list of them, in each input image's pixels. Errors name the file, or the index and
        shape of the array."""
        if isinstance(images, (str, os.PathLike, np.ndarray)):
            return self.detect([images])[0]
        arrays = [self._read(image, index) for index, image in enumerate(images)]
        results = []
        with torch.no_grad(), inference_autocast(self.cfg.MODEL.DEVICE, self.amp):
            if self.tta is not None:
                # TTA resizes the original image to each of its sizes
                results = [self._detections(self.tta([self._input(a, a)])[0]) for a in arrays]
            else:
                for start in range(0, len(arrays), self.batch_size):
                    batch = arrays[start : start + self.batch_size]
                    inputs = [
                        self._input(a, self.resize.get_transform(a).apply_image(a)) for a in batch
                    ]
                    results.extend(self._detections(out) for out in self.model(inputs))
        return results

    def _read(self, image: ImageInput, index: int) -> np.ndarray:
        """(H, W, 3) uint8 in the model's channel order; files read as in training
        (16-bit images scaled, errors naming the file)."""
        if isinstance(image, (str, os.PathLike)):
            return read_image(image, format=self.cfg.INPUT.FORMAT)
        image = check_image_array(image, index)
        return to_model_format(image, self.input_format, self.cfg.INPUT.FORMAT)

    @staticmethod
    def _input(original: np.ndarray, image: np.ndarray) -> dict:
        """Model input of `image` (uint8, as Detectron2's test loader gives it; TTA then
        resizes it with PIL), detections wanted in `original`'s size."""
        tensor = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return {"image": tensor, "height": original.shape[0], "width": original.shape[1]}

    @staticmethod
    def _detections(output: dict) -> Detections:
        instances = output["instances"].to("cpu")
        landmarks = None
        if instances.has("pred_keypoints"):  # a DF2S2 with landmarks (TTA gives none)
            landmarks = instances.pred_keypoints[:, :, :2].float().numpy()
        return Detections(
            instances.pred_boxes.tensor.float().numpy(), instances.scores.float().numpy(), landmarks
        )
