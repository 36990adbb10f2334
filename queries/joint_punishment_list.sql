-- 联合惩戒名单, as of {{as_of}}: enterprises with a counting hard trigger, or rated 失信企业 by
-- customs (latest category effective by then), with the basis and the date it stops counting.
WITH official AS (
    SELECT uscc, category, effective_from, row_number() OVER (PARTITION BY uscc ORDER BY effective_from DESC) AS rn
    FROM customs_credit WHERE effective_from <= DATE '{{as_of}}'
)
SELECT ev.uscc, e.name, ev.title AS basis, ev.rule_id, ev.source_table, ev.source_key,
       ev.event_date, CASE WHEN ev.counts_until >= DATE '9999-01-01' THEN NULL ELSE ev.counts_until END AS counts_until,
       '联合办公室综合评价认定' AS list_source, DATE '{{as_of}}' AS as_of
FROM credit_evidence ev
LEFT JOIN enterprise e ON e.uscc = ev.uscc
WHERE ev.hard_trigger
UNION ALL
SELECT o.uscc, e.name, '海关认定失信企业' AS basis, 'CUSTOMS_DISCREDITED', 'customs_credit', o.uscc AS key2,
       o.effective_from, CAST(NULL AS DATE), '海关官方认定', DATE '{{as_of}}'
FROM official o
LEFT JOIN enterprise e ON e.uscc = o.uscc
WHERE o.rn = 1 AND o.category = '失信企业'
