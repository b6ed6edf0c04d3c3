"""DF2S2 face detector for Detectron2. Importing this package registers the
backbones, the meta-architecture and the face datasets."""
from .known_warnings import ignore_known_warnings

ignore_known_warnings()  # first: the imports below load Detectron2

from .config import add_df2s2_config, get_df2s2_cfg  # noqa: E402
from . import modeling  # noqa: F401  registers backbones and the meta-architecture
from . import data  # noqa: F401  registers the face datasets
from . import evaluation  # noqa: F401
from .face_detector import FaceDetector

__all__ = ["add_df2s2_config", "get_df2s2_cfg", "FaceDetector"]
__version__ = "0.1.0"
