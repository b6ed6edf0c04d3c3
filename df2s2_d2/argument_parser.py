"""The command-line parser shared by the tools that build a model from a config."""
import argparse
from typing import Optional


def config_argument_parser(description: str, config_file_default: Optional[str] = None,
                           config_file_help: str = "path to a config file",
                           opts_help: str = "config options: KEY VALUE pairs") -> argparse.ArgumentParser:
    """A parser with Detectron2's ``--config-file FILE`` and trailing ``opts`` (``KEY VALUE``
    pairs for ``cfg.merge_from_list``), as ``detectron2.engine.default_argument_parser``
    has them, without its training flags. ``--config-file`` is required unless it has a
    default. Tools add their own arguments to it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config-file", metavar="FILE", help=config_file_help,
                        required=config_file_default is None,
                        default=config_file_default)
    parser.add_argument("opts", default=[], nargs=argparse.REMAINDER, help=opts_help)
    return parser
