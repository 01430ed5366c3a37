-- Drop a filter's terms before loading its manifest again ($filter: the manifest's name).
delete from mix_filter_terms where filter = $filter
