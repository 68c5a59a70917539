-- payment_method_metrics: per payment method and month of payment, over every payment whatever its status:
-- total_payment_value = sum(amount), payment_count, average_payment_amount = avg(amount).
SELECT payment_method,
       payment_year,
       payment_month,
       CAST(sum(amount) AS DECIMAL(18, 2)) AS total_payment_value,
       count(*) AS payment_count,
       CAST(avg(amount) AS DECIMAL(18, 4)) AS average_payment_amount
FROM payments_data
GROUP BY payment_method, payment_year, payment_month
