"""Choosing datatrove's executor: local here, Slurm or Ray when a corpus outgrows one machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .choices import check_choice
from .errors import ConfigError


class ExecutorKind(StrEnum):
    """datatrove's executors (`--executor`)."""

    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"


@dataclass
class ExecutorConfig:
    kind: str = "local"
    tasks: int = 1
    workers: int = 1
    # Slurm only
    partition: str | None = None
    time: str = "24:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    gpus_per_task: int = 0
    venv_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = check_choice(ExecutorKind, self.kind, "executor")
        if self.tasks < 1:
            raise ConfigError(f"--tasks must be at least 1, got {self.tasks}")
        if self.workers < 1 and self.workers != -1:
            raise ConfigError(f"--workers must be at least 1 (or -1 for all tasks at once), got {self.workers}")
        if self.kind == "slurm" and not self.partition:
            raise ConfigError("--executor slurm needs --partition")

    def check_available(self) -> None:
        """Fail with one clear line when the chosen executor's engine is missing on this machine."""
        import importlib.util
        import shutil

        if self.kind == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError("--executor slurm: `sbatch` is not on PATH (run this on a Slurm login node)")
        if self.kind == "ray" and importlib.util.find_spec("ray") is None:
            raise ConfigError("--executor ray needs the ray package: pip install 'ray[default]'")


def build_executor(pipeline: list, cfg: ExecutorConfig, logging_dir: str, job_name: str, depends: Any = None):
    """The datatrove executor for `pipeline`; `depends` runs first (Slurm: as a job dependency)."""
    cfg.check_available()
    if cfg.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(
            pipeline, tasks=cfg.tasks, workers=cfg.workers, logging_dir=logging_dir, depends=depends
        )
    if cfg.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(
            pipeline,
            tasks=cfg.tasks,
            workers=cfg.workers,
            time=cfg.time,
            partition=cfg.partition,
            cpus_per_task=cfg.cpus_per_task,
            mem_per_cpu_gb=cfg.mem_per_cpu_gb,
            gpus_per_task=cfg.gpus_per_task,
            job_name=job_name,
            logging_dir=logging_dir,
            venv_path=cfg.venv_path,
            depends=depends,
            **cfg.extra,
        )
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(
        pipeline,
        tasks=cfg.tasks,
        workers=cfg.workers,
        logging_dir=logging_dir,
        cpus_per_task=cfg.cpus_per_task,
        mem_per_cpu_gb=cfg.mem_per_cpu_gb,
        gpus_per_task=cfg.gpus_per_task,
        depends=depends,
        **cfg.extra,
    )


@contextlib.contextmanager
def quiet_datatrove(log_path: Path, verbose: bool) -> Iterator[None]:
    """datatrove logs every task to stderr; keep that in the run's log file unless --verbose.
    Either way it is redacted first: an exception that names an endpoint's URL or echoes a key
    never reaches the log or the terminal."""
    import sys

    from datatrove.utils.logging import logger

    from .secrets import RedactingStream, redact

    # also the task log files datatrove writes itself (LOGGING_DIR/logs/task_NNNNN.log)
    logger.configure(patcher=lambda record: record.update(message=redact(record["message"])))
    if verbose:
        stream = RedactingStream(sys.stderr)
        try:
            with contextlib.redirect_stderr(stream):
                yield
        finally:
            stream.flush()
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as sink:
        stream = RedactingStream(sink)
        try:
            with contextlib.redirect_stderr(stream):
                yield
        finally:
            stream.flush()
