"""Choosing datatrove's executor: local here, Slurm or Ray when a corpus outgrows one machine.

What brd adds to datatrove's Slurm executor (see scaleout.py for the run around it):
- the job finds this Python: its script puts this interpreter's folder (the virtualenv's bin/)
  first on PATH, so `launch_pickled_pipeline` resolves on the compute node (or `venv_path`'s
  activate script is sourced, as datatrove does);
- every job is submitted with `--kill-on-invalid-dep=yes`: a job whose dependency failed is
  cancelled instead of pending forever (`DependencyNeverSatisfied`);
- the commit job depends on its tasks with `afterany` (datatrove's run_on_dependency_fail), so it
  runs however they ended and records the outcome;
- no merge_stats job per stage (brd keeps its counts in the store's `runs` table).
"""

from __future__ import annotations

import contextlib
import functools
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .choices import ExecutorKind, check_choice
from .errors import ConfigError

__all__ = ["ExecutorConfig", "ExecutorKind", "build_executor", "parse_sbatch_args", "quiet_datatrove"]
_SBATCH_KEY = re.compile(r"^[a-z][a-z0-9-]*$")


def parse_sbatch_args(items: list[str] | None) -> dict[str, str]:
    """`--sbatch-arg KEY=VALUE` (or a bare KEY for a flag) into sbatch_args."""
    out: dict[str, str] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        out[key.strip().lstrip("-")] = value
    return out


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
    venv_path: str | None = None  # an activate script to source in the job (default: this interpreter's bin/)
    wait: bool = False  # Slurm: stay until the commit job has recorded the run
    sbatch_args: dict[str, str] = field(default_factory=dict)  # extra #SBATCH lines (account, qos, time ...)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = check_choice(ExecutorKind, self.kind, "executor")
        if self.tasks < 1:
            raise ConfigError(f"--tasks must be at least 1, got {self.tasks}")
        if self.workers < 1 and self.workers != -1:
            raise ConfigError(f"--workers must be at least 1 (or -1 for all tasks at once), got {self.workers}")
        if self.kind == "slurm" and not self.partition:
            raise ConfigError("--executor slurm needs --partition")
        if self.venv_path is not None and not Path(self.venv_path).is_file():
            raise ConfigError(f"venv_path {self.venv_path}: no such activate script")
        for key, value in self.sbatch_args.items():
            # each becomes a `#SBATCH --key=value` line of the job script
            if not _SBATCH_KEY.match(key) or any(c in str(value) for c in "\n\r\0"):
                raise ConfigError(f"--sbatch-arg {key}={value!r}: expected KEY=VALUE, KEY like `account` or `gres`")

    def check_available(self) -> None:
        """Fail with one clear line when the chosen executor's engine is missing on this machine."""
        import importlib.util

        if self.kind == "slurm":
            if shutil.which("sbatch") is None:
                raise ConfigError("--executor slurm: `sbatch` is not on PATH (run this on a Slurm login node)")
            self._check_partition()
        if self.kind == "ray" and importlib.util.find_spec("ray") is None:
            raise ConfigError("--executor ray needs the ray package: pip install 'brd[ray]'")

    def _check_partition(self) -> None:
        try:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigError(f"--executor slurm: `sinfo` failed ({type(exc).__name__}); is slurmctld up?") from None
        known = sorted({line.strip() for line in out.splitlines() if line.strip()})
        if self.partition not in known:
            raise ConfigError(
                f"--executor slurm --partition {self.partition}: no such partition (sinfo lists: {', '.join(known)})"
            )

    def single(self) -> ExecutorConfig:
        """The same executor for a one-task job without GPUs (the commit)."""
        return ExecutorConfig(**{**self.__dict__, "tasks": 1, "workers": 1, "gpus_per_task": 0})


@functools.cache
def _slurm_executor() -> type:
    """datatrove's Slurm executor without its merge_stats job (see the module docstring). Made on
    first use: importing datatrove's executors at start-up would slow every `brd` command."""
    from datatrove.executor import SlurmPipelineExecutor

    class BrdSlurmExecutor(SlurmPipelineExecutor):
        def launch_merge_stats(self) -> None:
            return None

    return BrdSlurmExecutor


def _env_command(cfg: ExecutorConfig) -> str:
    if cfg.venv_path:
        return f"source {shlex.quote(cfg.venv_path)}"
    # sys.executable, not its resolved target: a virtualenv's bin/ holds launch_pickled_pipeline.
    return f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"


def build_executor(
    pipeline: list,
    cfg: ExecutorConfig,
    logging_dir: str,
    job_name: str,
    depends: Any = None,
    after_failure: bool = False,
):
    """The datatrove executor for `pipeline`. Slurm: `depends` is a job dependency (`afterok`, or
    `afterany` with `after_failure`). Ray runs its stages one after another (scaleout.py), so
    `depends` is not used there: datatrove's Ray executor polls an unfinished dependency forever."""
    cfg.check_available()
    if cfg.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(
            pipeline, tasks=cfg.tasks, workers=cfg.workers, logging_dir=logging_dir, depends=depends
        )
    if cfg.kind == "slurm":
        extra = dict(cfg.extra)
        sbatch_args = {"kill-on-invalid-dep": "yes", **cfg.sbatch_args, **extra.pop("sbatch_args", {})}
        return _slurm_executor()(
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
            env_command=_env_command(cfg),
            sbatch_args=sbatch_args,
            depends=depends,
            run_on_dependency_fail=after_failure,
            **extra,
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
        **cfg.extra,
    )


@contextlib.contextmanager
def quiet_datatrove(log_path: Path, verbose: bool) -> Iterator[None]:
    """datatrove logs every task to stderr; keep that in the run's log file unless --verbose."""
    if verbose:
        yield
        return
    from loguru import logger  # datatrove's; its default handler holds the real stderr

    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    with open(log_path, "a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        logger.remove()
        logger.add(sink, level="INFO")
        try:
            yield
        finally:
            logger.remove()
            logger.add(terminal, level="INFO")
