"""DF2S2 face detector for Detectron2. Importing this package registers the
backbones, the meta-architecture and the face datasets."""
from .config import add_df2s2_config, get_df2s2_cfg
from . import modeling  # noqa: F401  registers backbones and the meta-architecture
from . import data  # noqa: F401  registers the face datasets
from . import evaluation  # noqa: F401
from .face_detector import FaceDetector

__all__ = ["add_df2s2_config", "get_df2s2_cfg", "FaceDetector"]
__version__ = "0.1.0"
