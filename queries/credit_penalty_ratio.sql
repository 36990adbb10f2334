-- For each non-exempt penalty: the enterprise's penalties over the year up to that decision,
-- against 1‰ of its previous calendar year's declared value, and the ¥1,000,000 (brokers
-- ¥300,000) cumulative threshold (令251 第二十二条).
WITH decl_year AS (
    SELECT consignee_uscc AS uscc, CAST(substr(local_month(declared_at), 1, 4) AS INT) AS year,
           sum(total_value_cny) AS value_cny
    FROM customs_declaration
    WHERE consignee_uscc IS NOT NULL
    GROUP BY 1, 2
),
p AS (SELECT * FROM credit_penalties WHERE NOT exempt),
trailing AS (
    SELECT a.case_no, a.uscc, a.decided_on, a.is_broker, sum(b.amount_cny) AS amount_12m
    FROM p a
    JOIN p b ON b.uscc = a.uscc AND b.decided_on <= a.decided_on AND b.decided_on > a.decided_on - INTERVAL '1 year'
    GROUP BY a.case_no, a.uscc, a.decided_on, a.is_broker
)
SELECT t.case_no, t.uscc, t.decided_on, t.amount_12m, coalesce(d.value_cny, 0) AS prev_year_value_cny,
       t.amount_12m > coalesce(d.value_cny, 0) * 0.001 AS ratio_exceeded,
       t.amount_12m > CASE WHEN t.is_broker THEN 300000 ELSE 1000000 END AS amount_exceeded
FROM trailing t
LEFT JOIN decl_year d ON d.uscc = t.uscc AND d.year = CAST(date_part('year', t.decided_on) AS INT) - 1
