-- 通关时间统计: per period (ISO week / month of 申报时间, local time), slice and segment:
-- n, coverage (n with both timestamps / declarations in the slice), mean, median, p90, p95,
-- min, max (hours), shares within 24 h and 48 h, and the number of outliers.
-- Slices: all, ie_flag, customs_office, trade_mode, inspected, and credit_grade — the consignee's
-- grade in the credit library as of the build date ('未评级' when it is not in the library).
-- Percentiles are continuous (linear interpolation), as DuckDB quantile_cont and numpy's
-- default. Figures are rounded to 4 decimals (hours: a third of a second).
-- Each row carries its four segments side by side, so one grouping serves all four: the rows
-- hashed are declarations × periods × slices (120M at 10M declarations), not × segments too; the
-- four segments become rows only after the aggregation. Only the credit_grade slice looks the
-- consignee up in the credit library.
WITH periods AS (
    SELECT 'week' AS period_kind, week AS period, ie_flag, customs_office, trade_mode, inspected, consignee_uscc,
           arrival_to_declared_h AS a2d, declared_to_released_h AS d2r, released_to_gate_out_h AS r2g, arrival_to_gate_out_h AS a2g
    FROM clearance_times
    UNION ALL
    SELECT 'month', month, ie_flag, customs_office, trade_mode, inspected, consignee_uscc,
           arrival_to_declared_h, declared_to_released_h, released_to_gate_out_h, arrival_to_gate_out_h
    FROM clearance_times
),
slices AS (
    SELECT period_kind, period, 'all' AS slice_kind, 'all' AS slice_value, a2d, d2r, r2g, a2g FROM periods
    UNION ALL
    SELECT period_kind, period, 'ie_flag', ie_flag, a2d, d2r, r2g, a2g FROM periods
    UNION ALL
    SELECT period_kind, period, 'customs_office', customs_office, a2d, d2r, r2g, a2g FROM periods
    UNION ALL
    SELECT period_kind, period, 'trade_mode', trade_mode, a2d, d2r, r2g, a2g FROM periods
    UNION ALL
    SELECT period_kind, period, 'inspected', CASE WHEN inspected THEN 'true' ELSE 'false' END, a2d, d2r, r2g, a2g FROM periods
    UNION ALL
    SELECT p.period_kind, p.period, 'credit_grade', coalesce(c.grade, '未评级'), p.a2d, p.d2r, p.r2g, p.a2g
    FROM periods p
    LEFT JOIN credit_library c ON c.uscc = p.consignee_uscc
),
-- One sorted copy of each group's values serves all three percentiles.
agg AS (
    SELECT
        period_kind, period, slice_kind, slice_value,
        count(*) AS declarations,
        count(a2d) AS a2d_n, avg(a2d) AS a2d_mean, quantile_cont(a2d, [0.5, 0.9, 0.95]) AS a2d_q,
        min(a2d) AS a2d_min, max(a2d) AS a2d_max,
        sum(CASE WHEN a2d <= 24 THEN 1 ELSE 0 END) AS a2d_24, sum(CASE WHEN a2d <= 48 THEN 1 ELSE 0 END) AS a2d_48,
        sum(CASE WHEN a2d > {{outlier_hours}} THEN 1 ELSE 0 END) AS a2d_out,
        count(d2r) AS d2r_n, avg(d2r) AS d2r_mean, quantile_cont(d2r, [0.5, 0.9, 0.95]) AS d2r_q,
        min(d2r) AS d2r_min, max(d2r) AS d2r_max,
        sum(CASE WHEN d2r <= 24 THEN 1 ELSE 0 END) AS d2r_24, sum(CASE WHEN d2r <= 48 THEN 1 ELSE 0 END) AS d2r_48,
        sum(CASE WHEN d2r > {{outlier_hours}} THEN 1 ELSE 0 END) AS d2r_out,
        count(r2g) AS r2g_n, avg(r2g) AS r2g_mean, quantile_cont(r2g, [0.5, 0.9, 0.95]) AS r2g_q,
        min(r2g) AS r2g_min, max(r2g) AS r2g_max,
        sum(CASE WHEN r2g <= 24 THEN 1 ELSE 0 END) AS r2g_24, sum(CASE WHEN r2g <= 48 THEN 1 ELSE 0 END) AS r2g_48,
        sum(CASE WHEN r2g > {{outlier_hours}} THEN 1 ELSE 0 END) AS r2g_out,
        count(a2g) AS a2g_n, avg(a2g) AS a2g_mean, quantile_cont(a2g, [0.5, 0.9, 0.95]) AS a2g_q,
        min(a2g) AS a2g_min, max(a2g) AS a2g_max,
        sum(CASE WHEN a2g <= 24 THEN 1 ELSE 0 END) AS a2g_24, sum(CASE WHEN a2g <= 48 THEN 1 ELSE 0 END) AS a2g_48,
        sum(CASE WHEN a2g > {{outlier_hours}} THEN 1 ELSE 0 END) AS a2g_out
    FROM slices
    GROUP BY period_kind, period, slice_kind, slice_value
),
-- The four segments become rows after the aggregation: each group row meets the four segment
-- names and picks its own columns (one grouping, not one per segment).
segment_names(segment) AS (
    VALUES ('arrival_to_declared'), ('declared_to_released'), ('released_to_gate_out'), ('arrival_to_gate_out')
),
segments AS (
    SELECT period_kind, period, slice_kind, slice_value, s.segment, declarations,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_n WHEN 'declared_to_released' THEN d2r_n
            WHEN 'released_to_gate_out' THEN r2g_n ELSE a2g_n END AS n,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_mean WHEN 'declared_to_released' THEN d2r_mean
            WHEN 'released_to_gate_out' THEN r2g_mean ELSE a2g_mean END AS mean_h,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_q WHEN 'declared_to_released' THEN d2r_q
            WHEN 'released_to_gate_out' THEN r2g_q ELSE a2g_q END AS q,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_min WHEN 'declared_to_released' THEN d2r_min
            WHEN 'released_to_gate_out' THEN r2g_min ELSE a2g_min END AS min_h,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_max WHEN 'declared_to_released' THEN d2r_max
            WHEN 'released_to_gate_out' THEN r2g_max ELSE a2g_max END AS max_h,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_24 WHEN 'declared_to_released' THEN d2r_24
            WHEN 'released_to_gate_out' THEN r2g_24 ELSE a2g_24 END AS within_24h,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_48 WHEN 'declared_to_released' THEN d2r_48
            WHEN 'released_to_gate_out' THEN r2g_48 ELSE a2g_48 END AS within_48h,
        CASE s.segment WHEN 'arrival_to_declared' THEN a2d_out WHEN 'declared_to_released' THEN d2r_out
            WHEN 'released_to_gate_out' THEN r2g_out ELSE a2g_out END AS n_outliers
    FROM agg CROSS JOIN segment_names s
),
metrics AS (
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
    FROM segments
)
-- One period kind and slice at a time: sanhu writes the branches of a top-level UNION ALL one
-- after another, so the durations of one branch are held at once (10M declarations: 40M values,
-- not 480M); the filters reach down to the matching branch of `periods` and `slices` above.
SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'all'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'ie_flag'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'customs_office'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'trade_mode'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'inspected'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'week' AND slice_kind = 'credit_grade'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'all'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'ie_flag'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'customs_office'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'trade_mode'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'inspected'
UNION ALL SELECT * FROM metrics WHERE period_kind = 'month' AND slice_kind = 'credit_grade'
-- Whatever a slice or period kind added above without a branch here (nothing, as written).
UNION ALL SELECT * FROM metrics
    WHERE period_kind NOT IN ('week', 'month')
       OR slice_kind NOT IN ('all', 'ie_flag', 'customs_office', 'trade_mode', 'inspected', 'credit_grade')
