-- 通关时间统计: per period (ISO week / month of 申报时间, local time), slice and segment:
-- n, coverage (n with both timestamps / declarations in the slice), mean, median, p90, p95,
-- min, max (hours), shares within 24 h and 48 h, and the number of outliers.
-- Slices: all, ie_flag, customs_office, trade_mode, inspected, and credit_grade — the consignee's
-- grade in the credit library as of the build date ('未评级' when it is not in the library).
-- Percentiles are continuous (linear interpolation), as DuckDB quantile_cont and numpy's
-- default. Figures are rounded to 4 decimals (hours: a third of a second).
WITH graded AS (
    SELECT t.*, coalesce(c.grade, '未评级') AS credit_grade
    FROM clearance_times t
    LEFT JOIN credit_library c ON c.uscc = t.consignee_uscc
),
segments AS (
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, credit_grade, 'arrival_to_declared' AS segment, arrival_to_declared_h AS h FROM graded
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, credit_grade, 'declared_to_released', declared_to_released_h FROM graded
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, credit_grade, 'released_to_gate_out', released_to_gate_out_h FROM graded
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, credit_grade, 'arrival_to_gate_out', arrival_to_gate_out_h FROM graded
),
periods AS (
    SELECT 'week' AS period_kind, week AS period, ie_flag, customs_office, trade_mode, inspected, credit_grade, segment, h FROM segments
    UNION ALL
    SELECT 'month', month, ie_flag, customs_office, trade_mode, inspected, credit_grade, segment, h FROM segments
),
slices AS (
    SELECT period_kind, period, 'all' AS slice_kind, 'all' AS slice_value, segment, h FROM periods
    UNION ALL
    SELECT period_kind, period, 'ie_flag', ie_flag, segment, h FROM periods
    UNION ALL
    SELECT period_kind, period, 'customs_office', customs_office, segment, h FROM periods
    UNION ALL
    SELECT period_kind, period, 'trade_mode', trade_mode, segment, h FROM periods
    UNION ALL
    SELECT period_kind, period, 'inspected', CASE WHEN inspected THEN 'true' ELSE 'false' END, segment, h FROM periods
    UNION ALL
    SELECT period_kind, period, 'credit_grade', credit_grade, segment, h FROM periods
),
-- One sorted copy of each group's values serves all three percentiles.
agg AS (
    SELECT
        period_kind, period, slice_kind, slice_value, segment,
        count(h)                                   AS n,
        count(*)                                   AS declarations,
        avg(h)                                     AS mean_h,
        quantile_cont(h, [0.5, 0.9, 0.95])         AS q,
        min(h)                                     AS min_h,
        max(h)                                     AS max_h,
        sum(CASE WHEN h <= 24 THEN 1 ELSE 0 END)   AS within_24h,
        sum(CASE WHEN h <= 48 THEN 1 ELSE 0 END)   AS within_48h,
        sum(CASE WHEN h > {{outlier_hours}} THEN 1 ELSE 0 END) AS n_outliers
    FROM slices
    GROUP BY period_kind, period, slice_kind, slice_value, segment
)
SELECT
    period_kind, period, slice_kind, slice_value, segment, n, declarations,
    round(CAST(n AS DOUBLE) / declarations, 4)                                  AS coverage,
    round(mean_h, 4)                                                            AS mean_h,
    round(q[1], 4)                                                              AS median_h,
    round(q[2], 4)                                                              AS p90_h,
    round(q[3], 4)                                                              AS p95_h,
    round(min_h, 4)                                                             AS min_h,
    round(max_h, 4)                                                             AS max_h,
    CASE WHEN n > 0 THEN round(CAST(within_24h AS DOUBLE) / n, 4) END           AS share_within_24h,
    CASE WHEN n > 0 THEN round(CAST(within_48h AS DOUBLE) / n, 4) END           AS share_within_48h,
    n_outliers
FROM agg
