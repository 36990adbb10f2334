-- 通关时间与目标对比: each week's and month's mean time against the baseline period
-- (sanhu.toml [clearance] baseline_period, default the year 2017) and the policy targets:
-- cut by one third in 2018 and by half by end 2021. Customs clearance time (申报→放行) and the
-- overall-time proxy (运抵→提离, 整体通关时间代理指标) are kept apart, per import/export.
WITH base AS (
    SELECT ie_flag,
        avg(declared_to_released_h) AS customs_base_h,
        avg(arrival_to_gate_out_h)  AS overall_base_h
    FROM clearance_times
    WHERE month LIKE '{{baseline_period}}%'
    GROUP BY ie_flag
),
cur AS (
    SELECT 'week' AS period_kind, week AS period, ie_flag,
        avg(declared_to_released_h) AS customs_mean_h, avg(arrival_to_gate_out_h) AS overall_mean_h
    FROM clearance_times GROUP BY week, ie_flag
    UNION ALL
    SELECT 'month', month, ie_flag, avg(declared_to_released_h), avg(arrival_to_gate_out_h)
    FROM clearance_times GROUP BY month, ie_flag
),
measures AS (
    SELECT c.period_kind, c.period, c.ie_flag, '通关时间(申报→放行)' AS measure, c.customs_mean_h AS mean_h, b.customs_base_h AS baseline_h
    FROM cur c LEFT JOIN base b ON b.ie_flag = c.ie_flag
    UNION ALL
    SELECT c.period_kind, c.period, c.ie_flag, '整体通关时间代理指标(运抵→提离)', c.overall_mean_h, b.overall_base_h
    FROM cur c LEFT JOIN base b ON b.ie_flag = c.ie_flag
)
SELECT
    period_kind, period, ie_flag, measure,
    round(mean_h, 4)                                   AS mean_h,
    '{{baseline_period}}'                              AS baseline_period,
    round(baseline_h, 4)                               AS baseline_h,
    round((mean_h - baseline_h) / baseline_h, 4)       AS change_vs_baseline,
    round(baseline_h * 2.0 / 3.0, 4)                   AS target_2018_h,
    round(baseline_h / 2.0, 4)                         AS target_2021_h,
    mean_h <= baseline_h * 2.0 / 3.0                   AS meets_2018_target,
    mean_h <= baseline_h / 2.0                         AS meets_2021_target
FROM measures
