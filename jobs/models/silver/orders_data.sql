-- orders_data: one row per order item (grain: order_items.id), carrying its order and the order's shipping (the
-- latest shipping_info row of the order, so shipments never multiply items); an order without items appears once,
-- with empty item columns. Carts are not joined (the original joined them by user and multiplied orders).
-- order_total_amount repeats on every item of an order: sum it once per order (see gold daily_sales_metrics).
-- _ingested_at is the newest ingestion time of every row it was made from (all the order's shipments).
-- incremental: order_id <- orders.id, order_items.order_id, shipping_info.order_id
-- grain: order_id, order_item_id
-- partition_by: order_year
-- (The newest ingestion time per order is a GROUP BY, not a window over the order: DataFusion evaluates an unbounded
-- window partition by partition, which cost a sixth of silver's CPU over 1M one-row partitions.)
WITH ranked_shipping AS (
    SELECT order_id, city, is_express, delivery_fee, delivered_at,
           row_number() OVER (PARTITION BY order_id ORDER BY delivered_at DESC NULLS LAST, id DESC) AS rn
    FROM shipping_info
),
shipping_ingested AS (
    SELECT order_id, max(_ingested_at) AS _ingested_at FROM shipping_info GROUP BY order_id
),
shipping AS (
    SELECT r.order_id, r.city, r.is_express, r.delivery_fee, r.delivered_at, n._ingested_at, r.rn
    FROM ranked_shipping r
    JOIN shipping_ingested n ON n.order_id = r.order_id
    WHERE r.rn = 1
)
SELECT o.id AS order_id,
       o.order_code,
       o.user_id,
       o.order_date,
       o.status AS order_status,
       o.total_amount AS order_total_amount,
       o.tracking_number,
       o.dispatch_date,
       i.id AS order_item_id,
       i.product_id,
       i.product_variant_id,
       i.vendor_id AS product_vendor_id,
       i.quantity,
       i.unit_price,
       i.total_price AS item_total_price,
       s.city AS shipping_city,
       s.is_express,
       s.delivery_fee,
       s.delivered_at,
       CAST(date_part('year', o.order_date) AS INT) AS order_year,
       CAST(date_part('month', o.order_date) AS INT) AS order_month,
       CAST(date_part('day', o.order_date) AS INT) AS order_day,
       greatest(o._ingested_at, i._ingested_at, s._ingested_at) AS _ingested_at
FROM orders o
LEFT JOIN order_items i ON i.order_id = o.id
LEFT JOIN shipping s ON s.order_id = o.id AND s.rn = 1
