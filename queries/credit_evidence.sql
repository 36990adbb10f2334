-- 资信扣分依据: the evidence rows counting as of {{as_of}} (event on or before it, repair window
-- not yet over). Every point of every score is one of these rows.
SELECT uscc, rule_id, title, points, hard_trigger, source_table, source_key, event_date, counts_until, DATE '{{as_of}}' AS as_of
FROM credit_events
WHERE event_date <= DATE '{{as_of}}' AND counts_until > DATE '{{as_of}}'
