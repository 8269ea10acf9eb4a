"""Training: the loop (loop.py, read it first), its settings (config.py), `--resume` (resume.py),
`--snapshots` (snapshots.py), the report after the last epoch (report.py) and the CUDA graph of a step."""

from .config import TrainConfig, TrainingError, default_config
from .loop import train

__all__ = ["TrainConfig", "TrainingError", "default_config", "train"]
