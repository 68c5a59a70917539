-- fact_order_items (star schema): one row per order item, keyed to dim_customer, dim_product and dim_date (the
-- order's day), with quantity, unit price and the item's total; order_total_amount is not repeated here.
-- Read from the conformed orders and order_items (the items of orders silver has), so it is updated by order.
-- incremental: order_id <- orders.id, order_items.order_id
-- grain: order_id, order_item_id
-- zorder_by: date_key, product_key
SELECT i.id AS order_item_id,
       o.id AS order_id,
       o.user_id AS customer_key,
       i.product_id AS product_key,
       CAST(date_part('year', o.order_date) * 10000 + date_part('month', o.order_date) * 100 + date_part('day', o.order_date) AS INT) AS date_key,
       o.status AS order_status,
       i.quantity,
       i.unit_price,
       i.total_price AS item_total_price
FROM order_items i
JOIN orders o ON o.id = i.order_id
