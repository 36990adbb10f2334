-- 申报差错 for the credit rules: a declaration delivered again with a declared field changed
-- (进出口, 关区, 监管方式, 运输方式, 收发货人, 申报单位, 申报时间 or 货值) is a corrected, i.e.
-- erroneous, declaration. Each changed version counts once against the consignee, dated the day
-- the correcting file was made (local). The same row sent again unchanged (cumulative exports)
-- and later milestones filled in (接单, 放行, 查验) are not errors.
-- Only an entry delivered more than once can have been corrected: those are found first (a
-- hash count), so the versions are compared for them alone, not sorted for every declaration.
WITH repeated AS (
    SELECT entry_id FROM customs_declaration_history GROUP BY entry_id HAVING count(*) > 1
),
versions AS (
    SELECT
        h.entry_id, h.consignee_uscc AS uscc, h."_delivery" AS delivery,
        concat_ws('|', h.ie_flag, h.customs_office, h.trade_mode, h.transport_mode, h.consignee_uscc,
                  h.declarant_uscc, CAST(h.declared_at AS VARCHAR), CAST(h.total_value_cny AS VARCHAR)) AS declared
    FROM customs_declaration_history h
    WHERE h.entry_id IN (SELECT entry_id FROM repeated)
),
changes AS (
    SELECT entry_id, uscc, delivery, declared,
        lag(declared) OVER (PARTITION BY entry_id ORDER BY delivery) AS previous
    FROM versions
)
SELECT
    concat(c.entry_id, '@', CAST(c.delivery AS VARCHAR))                                   AS correction_id,
    c.entry_id,
    c.uscc,
    local_date(arrow_cast(to_timestamp_micros(d.file_mtime), 'Timestamp(µs, "UTC")'))       AS corrected_on
FROM changes c
JOIN deliveries d ON d.id = c.delivery
WHERE c.previous IS NOT NULL AND c.previous <> c.declared AND c.uscc IS NOT NULL
