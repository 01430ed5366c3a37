"""The paper's fixed settings, where brd's defaults come from (cited by section).

Appendix A.1: "The student model is trained with learning rate = 0.0003, batch size = 8, and max
input length = 2048, for a maximum of 40000 steps. We save the model every 1000 steps."
`brd train`'s defaults (brd_train.train.config.TrainConfig) and a study manifest's `training:`
section both take these values from here.
"""

from __future__ import annotations

LEARNING_RATE = 3e-4
BATCH_SIZE = 8
MAX_LENGTH = 2048
MAX_STEPS = 40_000
SAVE_STEPS = 1_000
