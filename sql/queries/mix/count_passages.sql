-- How many passages the store holds (sizes the build's passage windows).
select count(*) from passages
