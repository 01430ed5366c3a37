-- What the sentiment filter (appendix A.5) removed on this store: usable QRA answers, the answers it
-- changed (at least one item removed) and the items removed.
-- grain: one row
select
    count(*) filter (where usable) as answers,
    count(*) filter (where usable and n_items_removed > 0) as answers_changed,
    coalesce(sum(n_items_removed), 0) as items_removed
from qra_without_sentiment
