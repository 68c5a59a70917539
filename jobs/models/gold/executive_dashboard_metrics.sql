-- executive_dashboard_metrics: one row for the run's logical date (report_date), never the wall clock. Year to date
-- means from January 1 of report_date's year to the end of report_date: ytd_revenue sums the totals of the orders
-- placed then (each once; CANCELLED and REJECTED orders excluded; 0 when there is none), ytd_orders counts them,
-- total_units_sold sums their items' quantities; total_customers = users with role CUSTOMER; active_vendors =
-- vendors with an active product; avg_product_rating = mean of the active reviews' ratings.
-- additive: orders.id, order_items.order_id
WITH ytd AS (
    SELECT id, total_amount
    FROM orders
    WHERE order_date >= CAST(date_trunc('year', DATE '{{logical_date}}') AS TIMESTAMP)
      AND order_date < CAST(DATE '{{logical_date}}' + INTERVAL '1 day' AS TIMESTAMP)
      AND status NOT IN ('CANCELLED', 'REJECTED')
),
measures AS (
    SELECT (SELECT COALESCE(sum(total_amount), 0) FROM ytd) AS ytd_revenue,
           (SELECT count(*) FROM ytd) AS ytd_orders,
           (SELECT COALESCE(sum(i.quantity), 0) FROM order_items i JOIN ytd ON ytd.id = i.order_id) AS total_units_sold
)
SELECT DATE '{{logical_date}}' AS report_date,
       ytd_revenue,
       ytd_orders,
       total_units_sold,
       (SELECT count(*) FROM users WHERE role = 'CUSTOMER') AS total_customers,
       (SELECT count(DISTINCT vendor_id) FROM products WHERE status = 'ACTIVE' OR is_active) AS active_vendors,
       (SELECT avg(CAST(rating AS DOUBLE)) FROM reviews WHERE status = 'ACTIVE') AS avg_product_rating
FROM measures
