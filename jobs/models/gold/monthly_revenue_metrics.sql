-- monthly_revenue_metrics: per month of payment, over PAID payments only: monthly_revenue = sum(amount),
-- paid_orders_count = distinct orders paid, revenue_per_order = monthly_revenue / paid_orders_count.
-- additive: payments_data.order_id
-- grain: payment_year, payment_month
WITH measures AS (
    SELECT payment_year,
           payment_month,
           CAST(sum(amount) AS DECIMAL(18, 2)) AS monthly_revenue,
           count(DISTINCT order_id) AS paid_orders_count
    FROM payments_data
    WHERE payment_status = 'PAID' AND paid_at IS NOT NULL
    GROUP BY payment_year, payment_month
)
SELECT payment_year,
       payment_month,
       monthly_revenue,
       paid_orders_count,
       CAST(monthly_revenue / CAST(nullif(paid_orders_count, 0) AS DECIMAL(20, 0)) AS DECIMAL(18, 2)) AS revenue_per_order
FROM measures
