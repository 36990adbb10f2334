-- Penalties as the credit rules see them: with the voluntary-disclosure exemption applied
-- (令251: a voluntarily disclosed case punished by a warning or at most ¥50,000 does not count).
SELECT p.case_no, p.uscc, p.decided_on, p.case_type, p.amount_cny, p.voluntary_disclosure,
       coalesce(p.voluntary_disclosure, false) AND coalesce(p.amount_cny, 0) <= 50000 AS exempt,
       coalesce(e.is_broker, false) AS is_broker
FROM customs_penalty p
LEFT JOIN enterprise e ON e.uscc = p.uscc
