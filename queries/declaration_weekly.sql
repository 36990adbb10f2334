-- 报关单周统计: declarations per local ISO week, import/export, customs office and trade mode.
-- A declaration belongs to the week of its 申报时间 in local time (iso_week applies the
-- project time zone).
SELECT
    iso_week(declared_at)                                   AS week,
    ie_flag,
    customs_office,
    trade_mode,
    count(*)                                                AS declarations,
    sum(CASE WHEN inspected THEN 1 ELSE 0 END)              AS inspected,
    sum(CASE WHEN released_at IS NOT NULL THEN 1 ELSE 0 END) AS released,
    sum(total_value_cny)                                    AS total_value_cny
FROM customs_declaration
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
