"""`brd tasks load`: downstream task files into `task_examples`, for SFT, task distillation and BRD².

The task templates (Table 8) are a contract (`brd_data.contracts.schemas.task`), shared with eval."""

from ..contracts.schemas.task import (
    Example,
    TaskError,
    TaskSpec,
    available_tasks,
    load_examples,
    load_task_spec,
    read_records,
)

__all__ = ["Example", "TaskError", "TaskSpec", "available_tasks", "load_examples", "load_task_spec", "read_records"]
