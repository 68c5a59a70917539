-- payment_method_metrics: per payment method and month of payment, over every payment whatever its status:
-- total_payment_value = sum(amount), payment_count, average_payment_amount = avg(amount) (over the payments with an
-- amount: amount_count).
-- additive: payments_data.payment_id
-- grain: payment_method, payment_year, payment_month
WITH measures AS (
    SELECT payment_method,
           payment_year,
           payment_month,
           CAST(sum(amount) AS DECIMAL(18, 2)) AS total_payment_value,
           count(*) AS payment_count,
           count(amount) AS amount_count
    FROM payments_data
    GROUP BY payment_method, payment_year, payment_month
)
SELECT payment_method,
       payment_year,
       payment_month,
       CASE WHEN amount_count > 0 THEN total_payment_value END AS total_payment_value,
       payment_count,
       CAST(total_payment_value / CAST(nullif(amount_count, 0) AS DECIMAL(20, 0)) AS DECIMAL(18, 4)) AS average_payment_amount,
       amount_count
FROM measures
