-- 资信变动: per week, each enterprise whose composite grade changed from the week before, with
-- the rules that started or stopped counting.
WITH h AS (
    SELECT week_end, week, uscc, score, grade, rules,
           lag(grade) OVER (PARTITION BY uscc ORDER BY week_end) AS prev_grade,
           lag(score) OVER (PARTITION BY uscc ORDER BY week_end) AS prev_score,
           lag(rules) OVER (PARTITION BY uscc ORDER BY week_end) AS prev_rules
    FROM credit_history
)
SELECT h.week, h.week_end, h.uscc, e.name, h.prev_grade AS from_grade, h.grade AS to_grade,
       h.prev_score AS from_score, h.score AS to_score,
       CASE WHEN h.grade < h.prev_grade THEN '上调' ELSE '下调' END AS direction,
       concat('扣分规则由［', CASE WHEN h.prev_rules = '' THEN '无' ELSE h.prev_rules END, '］变为［',
              CASE WHEN h.rules = '' THEN '无' ELSE h.rules END, '］') AS reasons
FROM h
JOIN enterprise e ON e.uscc = h.uscc
WHERE h.prev_grade IS NOT NULL AND h.prev_grade <> h.grade
