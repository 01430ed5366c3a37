-- What a (task, split) holds now, to tell an unchanged re-load from a changed one.
select example_id, text_hash, gold, source_sha256, template_hash
from task_examples
where task = $task and split = $split
