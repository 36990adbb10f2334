-- 企业综合资信库, as of {{as_of}}: one row per enterprise — profile, activity over the last 12
-- months, compliance indicators, the official customs category (imported, never recomputed) and
-- the joint office's composite score and grade with its reasons (rule set {{credit_version}}).
WITH win AS (
    SELECT arrow_cast(TIMESTAMP '{{as_of_end_utc}}', 'Timestamp(µs, "UTC")') AS t_end,
           arrow_cast(TIMESTAMP '{{as_of_end_utc}}', 'Timestamp(µs, "UTC")') - INTERVAL '365 days' AS t_start,
           DATE '{{as_of}}' AS d_end, DATE '{{as_of}}' - INTERVAL '365 days' AS d_start
),
official AS (
    SELECT uscc, category, row_number() OVER (PARTITION BY uscc ORDER BY effective_from DESC) AS rn
    FROM customs_credit, win WHERE effective_from <= win.d_end
),
ev AS (
    SELECT uscc, sum(points) AS points, bool_or(hard_trigger) AS hard,
           string_agg(concat(title, '（', CASE WHEN hard_trigger THEN '直接认定D级' ELSE concat(CAST(points AS VARCHAR), '分') END,
                             '，', source_table, ' ', source_key, '，', CAST(event_date AS VARCHAR), '）'), '；' ORDER BY rule_id, source_key) AS reasons
    FROM credit_evidence GROUP BY uscc
),
decl AS (
    SELECT consignee_uscc AS uscc, count(*) AS n, sum(total_value_cny) AS value_cny,
           avg(CASE WHEN inspected THEN 1.0 ELSE 0.0 END) AS inspection_rate
    FROM customs_declaration, win
    WHERE declared_at >= win.t_start AND declared_at < win.t_end
    GROUP BY consignee_uscc
),
ciq AS (
    SELECT uscc, count(*) AS n FROM ciq_declaration, win WHERE declared_at >= win.t_start AND declared_at < win.t_end GROUP BY uscc
),
nc AS (
    SELECT uscc, count(*) AS n FROM ciq_nonconformity, win WHERE found_on > win.d_start AND found_on <= win.d_end GROUP BY uscc
),
pen AS (
    SELECT uscc, count(*) AS n, sum(amount_cny) AS amount_cny FROM customs_penalty, win
    WHERE decided_on > win.d_start AND decided_on <= win.d_end GROUP BY uscc
),
smug AS (
    SELECT uscc, count(*) AS n FROM customs_penalty, win WHERE case_type = '走私' AND decided_on <= win.d_end GROUP BY uscc
),
tax AS (
    SELECT uscc, max(CAST(win.d_end - due_on AS BIGINT)) AS days FROM tax_arrears, win
    WHERE due_on < win.d_end AND (paid_on IS NULL OR paid_on > win.d_end) GROUP BY uscc
),
scored AS (
    SELECT e.uscc, e.name, e.is_broker,
        coalesce(o.category, '未认定')             AS official_category,
        {{credit_start}} + coalesce(ev.points, 0)  AS score,
        coalesce(ev.hard, false)                   AS hard_trigger,
        coalesce(ev.reasons, '无扣分事项')          AS reasons,
        coalesce(decl.n, 0)                        AS declarations_12m,
        coalesce(decl.value_cny, 0)                AS value_12m_cny,
        round(decl.inspection_rate, 4)             AS inspection_rate_12m,
        CASE WHEN coalesce(ciq.n, 0) > 0 THEN round(CAST(coalesce(nc.n, 0) AS DOUBLE) / ciq.n, 4) END AS nonconformity_rate_12m,
        coalesce(pen.n, 0)                         AS penalties_12m,
        coalesce(pen.amount_cny, 0)                AS penalty_amount_12m_cny,
        coalesce(smug.n, 0)                        AS smuggling_cases,
        coalesce(tax.days, 0)                      AS tax_overdue_days
    FROM enterprise e
    LEFT JOIN official o ON o.uscc = e.uscc AND o.rn = 1
    LEFT JOIN ev ON ev.uscc = e.uscc
    LEFT JOIN decl ON decl.uscc = e.uscc
    LEFT JOIN ciq ON ciq.uscc = e.uscc
    LEFT JOIN nc ON nc.uscc = e.uscc
    LEFT JOIN pen ON pen.uscc = e.uscc
    LEFT JOIN smug ON smug.uscc = e.uscc
    LEFT JOIN tax ON tax.uscc = e.uscc
)
SELECT
    uscc, name, official_category, score,
    CASE WHEN hard_trigger THEN 'D' WHEN score >= {{grade_a}} THEN 'A' WHEN score >= {{grade_b}} THEN 'B'
         WHEN score >= {{grade_c}} THEN 'C' ELSE 'D' END AS grade,
    hard_trigger, reasons, declarations_12m, value_12m_cny, inspection_rate_12m, nonconformity_rate_12m,
    penalties_12m, penalty_amount_12m_cny, smuggling_cases, tax_overdue_days, is_broker,
    '{{credit_version}}' AS rule_set_version,
    DATE '{{as_of}}'     AS as_of,
    '{{credit_label}}'   AS rating_basis
FROM scored
