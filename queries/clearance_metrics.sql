-- 通关时间统计: per period (ISO week / month of 申报时间, local time), slice and segment:
-- n, coverage (n with both timestamps / declarations in the slice), mean, median, p90, p95,
-- min, max (hours), shares within 24 h and 48 h, and the number of outliers.
-- Percentiles are continuous (linear interpolation), as DuckDB quantile_cont and numpy's
-- default. Figures are rounded to 4 decimals (hours: a third of a second).
WITH segments AS (
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, 'arrival_to_declared' AS segment, arrival_to_declared_h AS h FROM clearance_times
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, 'declared_to_released', declared_to_released_h FROM clearance_times
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, 'released_to_gate_out', released_to_gate_out_h FROM clearance_times
    UNION ALL
    SELECT week, month, ie_flag, customs_office, trade_mode, inspected, 'arrival_to_gate_out', arrival_to_gate_out_h FROM clearance_times
),
periods AS (
    SELECT 'week' AS period_kind, week AS period, ie_flag, customs_office, trade_mode, inspected, segment, h FROM segments
    UNION ALL
    SELECT 'month', month, ie_flag, customs_office, trade_mode, inspected, segment, h FROM segments
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
)
SELECT
    period_kind, period, slice_kind, slice_value, segment,
    count(h)                                                  AS n,
    count(*)                                                  AS declarations,
    round(CAST(count(h) AS DOUBLE) / count(*), 4)             AS coverage,
    round(avg(h), 4)                                          AS mean_h,
    round(quantile_cont(h, 0.5), 4)                           AS median_h,
    round(quantile_cont(h, 0.9), 4)                           AS p90_h,
    round(quantile_cont(h, 0.95), 4)                          AS p95_h,
    round(min(h), 4)                                          AS min_h,
    round(max(h), 4)                                          AS max_h,
    CASE WHEN count(h) > 0 THEN round(CAST(sum(CASE WHEN h <= 24 THEN 1 ELSE 0 END) AS DOUBLE) / count(h), 4) END AS share_within_24h,
    CASE WHEN count(h) > 0 THEN round(CAST(sum(CASE WHEN h <= 48 THEN 1 ELSE 0 END) AS DOUBLE) / count(h), 4) END AS share_within_48h,
    sum(CASE WHEN h > {{outlier_hours}} THEN 1 ELSE 0 END)    AS n_outliers
FROM slices
GROUP BY period_kind, period, slice_kind, slice_value, segment
