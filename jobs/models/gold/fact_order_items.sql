-- fact_order_items (star schema): one row per order item, keyed to dim_customer, dim_product and dim_date (the
-- order's day), with quantity, unit price and the item's total; order_total_amount is not repeated here.
SELECT order_item_id,
       order_id,
       user_id AS customer_key,
       product_id AS product_key,
       CAST(to_char(order_date, '%Y%m%d') AS INT) AS date_key,
       order_status,
       quantity,
       unit_price,
       item_total_price
FROM orders_data
WHERE order_item_id IS NOT NULL
