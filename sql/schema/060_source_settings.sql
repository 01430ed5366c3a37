-- 060: an ingested input is its content together with the settings that shaped its rows.
--   settings: {"format", "lang", "segmenter", "passage_sentences", "max_sentence_chars"} and, for
--             JSONL/Parquet, "text_fields". Ingesting the same file with other settings is refused
--             with the difference named, until `brd ingest --replace` replaces its rows.
-- NULL (sources ingested before 060): only `lang` is known; the file counts as ingested as before.
alter table sources add column settings json;
