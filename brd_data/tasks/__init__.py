"""Downstream tasks: Table 8 templates, label maps and example files, shared by eval, SFT and task distillation."""

from .spec import Example, TaskError, TaskSpec, available_tasks, load_examples, load_task_spec, read_records

__all__ = ["Example", "TaskError", "TaskSpec", "available_tasks", "load_examples", "load_task_spec", "read_records"]
