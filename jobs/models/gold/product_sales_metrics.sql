-- product_sales_metrics: per product sold: total_units_sold = sum(quantity), total_revenue = sum of the items'
-- total_price (what was charged), items_sold = order items, with the product's name, first category, average
-- active-review rating and active-review count. Items of orders that were CANCELLED or REJECTED are not sales.
-- additive: orders_data.order_id
-- grain: product_id
WITH measures AS (
    SELECT product_id,
           sum(quantity) AS total_units_sold,
           CAST(sum(item_total_price) AS DECIMAL(18, 2)) AS total_revenue,
           count(*) AS items_sold
    FROM orders_data
    WHERE order_item_id IS NOT NULL AND order_status NOT IN ('CANCELLED', 'REJECTED')
    GROUP BY product_id
)
SELECT m.product_id,
       p.product_name,
       p.category_name,
       m.total_units_sold,
       m.total_revenue,
       p.average_rating,
       p.review_count,
       m.items_sold
FROM measures m
LEFT JOIN products_data p ON p.product_id = m.product_id
