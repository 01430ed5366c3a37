"""The paper's fixed settings, where brd's defaults come from (cited by section).

Appendix A.1: "The student model is trained with learning rate = 0.0003, batch size = 8, and max
input length = 2048, for a maximum of 40000 steps. We save the model every 1000 steps."
`brd train`'s defaults (brd_train.train.config.TrainConfig) and a study manifest's `training:`
section both take these values from here. A step is 8 passages, one per sequence (unpacked): the
paper names no packing, and "batch size" counts what the loss of §3.2 sums over, passages.

§4: "we use one million passages from CC-100"; §3.2: passages of three sentences. §4.3: the
further-training baseline (XGLM-564M-FURTHER) trains "18,000" steps. A.3 and §4.3: the reduced
BIG-bench set is split ten percent test, ten percent tuning, the rest training. §5.2: the cross
entropy uses 1K instances per BIG-bench task.
"""

from __future__ import annotations

LEARNING_RATE = 3e-4
BATCH_SIZE = 8
MAX_LENGTH = 2048
MAX_STEPS = 40_000
SAVE_STEPS = 1_000
PACKING = False  # one passage per sequence (see above)

CORPUS_PASSAGES = 1_000_000  # §4
PASSAGE_SENTENCES = 3  # §3.2
FURTHER_STEPS = 18_000  # §4.3
TUNING_FRACTION = 0.1  # A.3 / §4.3: ten percent tuning, ten percent test
TEST_FRACTION = 0.1
CROSS_ENTROPY_TEXTS = 1_000  # §5.2: 1K instances per BIG-bench task
