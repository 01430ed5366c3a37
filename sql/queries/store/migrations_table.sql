-- The store's migration history: which sql/schema files were applied, with their checksums.
create table if not exists schema_migrations (
    version integer primary key,
    name varchar not null,
    checksum varchar not null,
    applied_at timestamp not null default current_timestamp
)
