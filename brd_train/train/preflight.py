"""Checks on the output folder before hours of training: that it can be written, and that the
checkpoints the run will keep fit on its disk."""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from brd_data.contracts.errors import UserError

# AdamW keeps two moments per parameter, in the parameter's dtype; the checkpoint holds them
# next to the weights, plus the scheduler, RNG states and tokenizer (a few MB, in the margin).
_OPTIMIZER_STATES = 2
_MARGIN = 1.10
_FIXED_BYTES = 64 << 20  # tokenizer, trainer state, RNG states, the datasets cache of a small mixture


class OutputError(UserError):
    """An output folder that cannot hold the run."""


@dataclass(frozen=True)
class DiskEstimate:
    checkpoint_bytes: int
    checkpoints_kept: int
    needed_bytes: int
    free_bytes: int

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.free_bytes


def check_writable(out: Path) -> bool:
    """Create `out` if needed and write a probe file into it; True if it was created here."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    probe = out / f".brd-probe-{uuid.uuid4().hex[:8]}"
    try:
        with open(probe, "wb") as f:
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise OutputError(f"the output folder {out} is not writable: {exc.strerror or exc}") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return created


def estimate_disk(
    n_params: int,
    bytes_per_param: int,
    max_steps: int,
    save_steps: int,
    save_total_limit: int | None,
    free_bytes: int,
    done_checkpoints: int = 0,
) -> DiskEstimate:
    """Bytes the checkpoints still to be written will take: weights plus optimiser state, times
    how many are kept at once (all of them unless --save-total-limit)."""
    per = int(n_params * bytes_per_param * (1 + _OPTIMIZER_STATES) * _MARGIN) + _FIXED_BYTES
    total = math.ceil(max_steps / save_steps)  # the trainer also saves at the last step
    kept = total if save_total_limit is None else min(total, save_total_limit)
    to_write = max(kept - done_checkpoints, 0) if save_total_limit is None else kept
    return DiskEstimate(checkpoint_bytes=per, checkpoints_kept=kept, needed_bytes=per * to_write, free_bytes=free_bytes)


def check_disk(out: Path, estimate: DiskEstimate) -> None:
    if not estimate.fits:
        raise OutputError(
            f"the output folder {out} has {_gb(estimate.free_bytes)} free but the run needs about "
            f"{_gb(estimate.needed_bytes)} ({estimate.checkpoints_kept} checkpoints of "
            f"{_gb(estimate.checkpoint_bytes)}); free space, choose another --out, or keep fewer "
            "with --save-total-limit"
        )


def free_bytes(out: Path) -> int:
    return shutil.disk_usage(out).free


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"
