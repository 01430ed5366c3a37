"""Student training on mixture folders with TRL's SFTTrainer: the BRD run and the baselines
(SFT-kind mixtures, continued training from a brd checkpoint), resumable and traced."""

from .config import TrainConfig
from .mixture import Mixture, MixtureError, read_mixture
from .runner import prepare, run_training

__all__ = ["Mixture", "MixtureError", "TrainConfig", "prepare", "read_mixture", "run_training"]
