-- daily_sales_metrics: per order day. daily_gmv sums each order's total once (the original summed it once per order
-- item); order_count counts orders; completed_orders counts DELIVERED orders (the original counted 'COMPLETED', a
-- status the enum does not have, so it was always 0); average_order_value = daily_gmv / order_count, to the cent
-- (half away from zero). Money is decimal: the same orders give the same digits in every run.
-- additive: orders.id
-- grain: order_year, order_month, order_day
WITH measures AS (
    SELECT CAST(date_part('year', order_date) AS INT) AS order_year,
           CAST(date_part('month', order_date) AS INT) AS order_month,
           CAST(date_part('day', order_date) AS INT) AS order_day,
           sum(total_amount) AS daily_gmv,
           count(*) AS order_count,
           sum(CASE WHEN status = 'DELIVERED' THEN 1 ELSE 0 END) AS completed_orders
    FROM orders
    WHERE order_date IS NOT NULL
    GROUP BY 1, 2, 3
)
SELECT order_year,
       order_month,
       order_day,
       daily_gmv,
       order_count,
       completed_orders,
       CAST(daily_gmv / order_count AS DECIMAL(18, 2)) AS average_order_value
FROM measures
