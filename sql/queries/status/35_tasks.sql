-- Task examples by task and split
select task, split, count(*) as n_examples, count(gold) as n_labelled, any_value(template_hash) as template_hash
from task_examples
group by task, split
order by task, split
