"""`OnnxFaceDetector`: an exported DF2S2 (or any RetinaNet) run by onnxruntime, with
Detectron2's pre- and post-processing in numpy. Imports neither torch nor Detectron2."""
import os
from typing import List, Optional, Sequence, Union

import numpy as np

from .anchors import cell_anchors, grid_anchors
from .deploy_config import DeployConfig
from .detections import Detections
from .face_landmarks import NUM_LANDMARKS
from .preprocessing import (
    batch_input, check_image_array, model_input, read_image, resize, to_model_format,
)
from .retinanet_decoding import decode_detections, dense_to_anchor_major, postprocess, sigmoid

__all__ = ["OnnxFaceDetector", "ImageInput"]

ImageInput = Union[str, "os.PathLike[str]", np.ndarray]


class OnnxFaceDetector:
    """Face detection with ``face_detector.onnx`` and its ``face_detector.json``
    (``tools/export.py --format deploy``), or with the int8 ``face_detector_int8.onnx``
    and its JSON (``--int8``; same pre- and post-processing, ``network.precision`` int8).
    A model exported from a DF2S2 trained with ``MODEL.DF2S2.LANDMARKS`` (its JSON lists
    ``outputs.landmarks``) also gives each detection's five landmarks.

    Args:
        model_path: the ONNX file (str or PathLike); its JSON is ``config_path`` or the same
            path with ``.json``. Both are checked at load: an error names the file and field.
        score_threshold, min_size, max_size: override the exported test settings
            (``MODEL.RETINANET.SCORE_THRESH_TEST``, ``INPUT.MIN_SIZE_TEST`` / ``MAX_SIZE_TEST``).
        input_format: channel order of the numpy images given to `detect` (paths are read
            from disk): "BGR" (OpenCV's) or "RGB".
        num_threads: onnxruntime intra-op threads (0: its default).
        providers: onnxruntime execution providers (default: CPU).
        max_pixels: image files with more pixels are refused (default: Pillow's
            decompression-bomb limit).
    """

    def __init__(
        self,
        model_path,
        config_path=None,
        *,
        score_threshold: Optional[float] = None,
        min_size: Optional[int] = None,
        max_size: Optional[int] = None,
        input_format: str = "BGR",
        num_threads: int = 0,
        providers: Optional[Sequence[str]] = None,
        max_pixels: Optional[int] = None,
    ):
        import onnxruntime

        model_path = os.fspath(model_path)
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"{model_path}: no such ONNX model file")
        config_path = os.fspath(config_path or os.path.splitext(model_path)[0] + ".json")
        if not os.path.isfile(config_path):
            raise FileNotFoundError(
                f"{config_path}: no deploy JSON beside {model_path} (tools/export.py writes both)"
            )
        self.model_path, self.config_path = model_path, config_path
        self.config = DeployConfig.load(config_path)
        self.score_threshold = (
            self.config.inference.score_threshold if score_threshold is None else score_threshold
        )
        self.min_size = self.config.input.min_size_test if min_size is None else min_size
        self.max_size = self.config.input.max_size_test if max_size is None else max_size
        self.input_format = input_format
        self.max_pixels = max_pixels
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        # idle threads sleep instead of spinning: the CPU stays free for the rest of a pipeline
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = _load_session(model_path, options, providers, self.config.network.precision)
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        self.config.check_network(config_path, model_path, outputs)
        self.input_name = self.session.get_inputs()[0].name
        anchors = self.config.anchors
        self.cell_anchors = [
            cell_anchors(sizes, ratios) for sizes, ratios in zip(anchors.sizes, anchors.aspect_ratios)
        ]

    @property
    def has_landmarks(self) -> bool:
        """Whether the model gives five landmarks per detection."""
        return self.config.has_landmarks

    def require_landmarks(self) -> None:
        """A ValueError naming the model unless it has landmark outputs."""
        if not self.has_landmarks:
            raise ValueError(
                f"{self.model_path}: this model has no landmark outputs ({self.config_path} lists "
                f"no outputs.landmarks); re-export a model trained with MODEL.DF2S2.LANDMARKS True"
            )

    def detect(
        self, images: Union[ImageInput, Sequence[ImageInput]], batch_size: int = 1
    ) -> Union[Detections, List[Detections]]:
        """Detections of one image (a str / PathLike path or an (H, W, 3) uint8 array) or of
        a list of them, with ``landmarks`` when the model has them (else None). Errors name
        the file, or the index and shape of the array.

        batch_size: images per network call; the images of a call are padded to its largest
        test size (``ImageList``), each one's detections rescaled to its own size. With
        images of one test size the results equal one-at-a-time calls."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if isinstance(images, (str, os.PathLike, np.ndarray)):
            return self.detect([images])[0]
        images = list(images)
        results = []
        for start in range(0, len(images), batch_size):
            originals = [
                self._load(image, start + i) for i, image in enumerate(images[start : start + batch_size])
            ]
            resized = [resize(image, self.min_size, self.max_size) for image in originals]
            found = self.detect_resized_batch(resized, landmarks=self.has_landmarks)
            for original, image, (boxes, scores, _, *points) in zip(originals, resized, found):
                results.append(Detections(
                    *postprocess(boxes, scores, image.shape[:2], original.shape[:2], *points)
                ))
        return results

    def head_outputs(self, image: np.ndarray):
        """Raw per-level cls logits (1, A*K, H_l, W_l) and box deltas (1, A*4, H_l, W_l)
        of one (h, w, 3) model-format uint8 image at the test size."""
        config = self.config
        batch = model_input(
            image, config.input.pixel_mean, config.input.pixel_std, config.input.size_divisibility
        )
        outputs = self.session.run(None, {self.input_name: batch})
        named = dict(zip((o.name for o in self.session.get_outputs()), outputs))
        return (
            [named[name] for name in config.outputs.cls_logits],
            [named[name] for name in config.outputs.box_deltas],
        )

    def detect_resized(self, image: np.ndarray, landmarks: bool = False):
        """Detections of an (h, w, 3) model-format uint8 image already at the test size, in
        its own pixels: boxes (D, 4), scores (D,) float32, classes (D,) int64; with
        `landmarks` also points (D, 5, 2) float32 (a ValueError for a model without them)."""
        return self.detect_resized_batch([image], landmarks)[0]

    def detect_resized_batch(self, images: Sequence[np.ndarray], landmarks: bool = False):
        """`detect_resized` of N images in one network call (padded to the largest): per
        image boxes (D, 4), scores (D,), classes (D,) (and with `landmarks` points (D, 5, 2))
        in its own pixels (not clipped)."""
        if landmarks:
            self.require_landmarks()
        config = self.config
        batch = batch_input(
            images, config.input.pixel_mean, config.input.pixel_std, config.input.size_divisibility
        )
        outputs = self.session.run(None, {self.input_name: batch})
        named = dict(zip((o.name for o in self.session.get_outputs()), outputs))
        logits = [named[name] for name in config.outputs.cls_logits]
        deltas = [named[name] for name in config.outputs.box_deltas]
        num_classes = config.inference.num_classes
        anchors = grid_anchors(
            [x.shape[-2:] for x in logits],
            config.anchors.strides,
            self.cell_anchors,
            config.anchors.offset,
        )
        scores = [sigmoid(dense_to_anchor_major(x, num_classes)) for x in logits]
        deltas = [dense_to_anchor_major(x, 4) for x in deltas]
        points = None
        if landmarks:
            points = [
                dense_to_anchor_major(named[name], 2 * NUM_LANDMARKS) for name in config.outputs.landmarks
            ]
        return [
            decode_detections(
                [s[i] for s in scores], [d[i] for d in deltas], anchors, config, self.score_threshold,
                None if points is None else [p[i] for p in points],
            )
            for i in range(len(images))
        ]

    def _load(self, image: ImageInput, index: int) -> np.ndarray:
        """(H, W, 3) uint8 in the model's channel order, from a path or an array."""
        config = self.config
        if isinstance(image, (str, os.PathLike)):
            return read_image(image, config.input.format, self.max_pixels)
        image = check_image_array(image, index)
        return to_model_format(image, self.input_format, config.input.format)


def _load_session(model_path: str, options, providers, precision: str = "fp32"):
    """onnxruntime's session of `model_path`; a file it cannot load gives a ValueError
    naming the file instead of onnxruntime's traceback (for an int8 model: naming the
    int8 kernels it needs)."""
    import onnxruntime

    if os.path.getsize(model_path) == 0:
        raise ValueError(f"{model_path}: empty file (0 bytes), expected an ONNX model")
    try:
        return onnxruntime.InferenceSession(
            model_path, options, providers=list(providers or ["CPUExecutionProvider"])
        )
    except Exception as e:  # onnxruntime's InvalidProtobuf, Fail, ... share no base class
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if precision == "int8":
            raise ValueError(
                f"{model_path}: an int8 model (QDQ: QuantizeLinear, DequantizeLinear and int8 "
                f"Conv kernels) that this onnxruntime {onnxruntime.__version__} with providers "
                f"{list(providers or ['CPUExecutionProvider'])} cannot load: {reason}"
            ) from None
        raise ValueError(
            f"{model_path}: not an ONNX model that onnxruntime can load (truncated or another "
            f"format?): {reason}"
        ) from None
