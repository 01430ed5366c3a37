-- A (task, split) is replaced whole when its file or template changed.
delete from task_examples
where task = $task and split = $split
