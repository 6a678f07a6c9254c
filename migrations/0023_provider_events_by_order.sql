-- An order's events, as an operator's order lookup lists them, read through an index of their own:
-- before, the lookup walked the whole table for an order with fewer events than its limit (0.2 s
-- at two million events, growing with every callback stored).
CREATE INDEX provider_events_order ON provider_events (order_id, id) WHERE order_id IS NOT NULL;

-- Events by outcome, newest first, in the order the listing reads them. Only the outcomes an
-- operator looks for are kept here: the applied ones, nearly every event, are the newest rows of
-- the table itself, so a stored callback writes no more index entries than before.
DROP INDEX provider_events_outcome;
CREATE INDEX provider_events_unapplied ON provider_events (outcome, id) WHERE outcome <> 'applied';
