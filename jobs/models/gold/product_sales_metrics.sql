-- product_sales_metrics: per product sold: total_units_sold = sum(quantity), total_revenue = sum of the items'
-- total_price (what was charged), with the product's name, first category, average active-review rating and
-- active-review count. Items of orders that were CANCELLED or REJECTED are not sales.
-- incremental: product_id <- orders_data.product_id, products_data.product_id
-- grain: product_id
SELECT i.product_id,
       p.product_name,
       p.category_name,
       sum(i.quantity) AS total_units_sold,
       CAST(sum(i.item_total_price) AS DECIMAL(18, 2)) AS total_revenue,
       p.average_rating,
       p.review_count
FROM orders_data i
LEFT JOIN products_data p ON p.product_id = i.product_id
WHERE i.order_item_id IS NOT NULL AND i.order_status NOT IN ('CANCELLED', 'REJECTED')
GROUP BY i.product_id, p.product_name, p.category_name, p.average_rating, p.review_count
