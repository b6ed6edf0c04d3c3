from .df2s2 import DF2S2
from .head import DF2S2Head

__all__ = ["DF2S2", "DF2S2Head"]
