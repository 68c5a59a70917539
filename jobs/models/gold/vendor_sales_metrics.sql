-- vendor_sales_metrics: per vendor (of the items sold): total_units_sold = sum(quantity), total_sales = sum of the
-- items' total_price, order_count = distinct orders. Items of CANCELLED or REJECTED orders are not sales.
-- additive: orders_data.order_id
-- grain: product_vendor_id
WITH measures AS (
    SELECT product_vendor_id,
           sum(quantity) AS total_units_sold,
           CAST(sum(item_total_price) AS DECIMAL(18, 2)) AS total_sales,
           count(DISTINCT order_id) AS order_count
    FROM orders_data
    WHERE order_item_id IS NOT NULL AND order_status NOT IN ('CANCELLED', 'REJECTED')
    GROUP BY product_vendor_id
)
SELECT product_vendor_id, total_units_sold, total_sales, order_count
FROM measures
