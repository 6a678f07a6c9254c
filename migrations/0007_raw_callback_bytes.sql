-- A callback whose body is not storable text (a NUL byte, invalid UTF-8) is still kept for ops: its
-- body column then holds an escaped rendering and raw_body the exact bytes.
ALTER TABLE provider_callbacks ADD COLUMN raw_body BYTEA;
