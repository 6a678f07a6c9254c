-- Merchants see a stable error code and message; the provider's own code and text are for ops.
ALTER TABLE withdrawals
    ADD COLUMN provider_error_code TEXT,
    ADD COLUMN provider_error      TEXT;
UPDATE withdrawals
SET provider_error = error_message,
    provider_error_code = CASE WHEN error_code IN ('provider_outcome_unknown', 'unsupported')
                               THEN NULL ELSE error_code END,
    error_code = CASE error_code
                     WHEN 'provider_outcome_unknown' THEN 'provider_unavailable'
                     WHEN 'unsupported' THEN 'unsupported'
                     ELSE 'provider_refused' END,
    error_message = CASE error_code
                        WHEN 'provider_outcome_unknown'
                            THEN 'the provider''s answer was lost or unreadable; the withdrawal is being settled with the provider'
                        WHEN 'unsupported' THEN 'this provider account cannot send this withdrawal'
                        ELSE 'the provider refused the withdrawal' END
WHERE error_code IS NOT NULL;
