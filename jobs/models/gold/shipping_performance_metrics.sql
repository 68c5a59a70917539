-- shipping_performance_metrics: per shipping city and express flag, over shipments: average_delivery_fee (over the
-- shipments with a fee), shipment_count, average_delivery_days = mean days from the order to the delivery, to the
-- second (delivered shipments only). The sums behind the averages are kept as columns: delivery_fee_sum,
-- delivery_fee_count, delivery_seconds, delivered_count.
-- additive: shipping_info.order_id, orders.id
-- grain: shipping_city, is_express
WITH measures AS (
    SELECT s.city AS shipping_city,
           s.is_express,
           CAST(sum(s.delivery_fee) AS DECIMAL(18, 2)) AS delivery_fee_sum,
           count(s.delivery_fee) AS delivery_fee_count,
           count(*) AS shipment_count,
           sum(
               CASE WHEN s.delivered_at IS NOT NULL AND o.order_date IS NOT NULL
                    THEN CAST(round(date_part('epoch', s.delivered_at) - date_part('epoch', o.order_date)) AS BIGINT) END
           ) AS delivery_seconds,
           count(CASE WHEN s.delivered_at IS NOT NULL AND o.order_date IS NOT NULL THEN 1 END) AS delivered_count
    FROM shipping_info s
    LEFT JOIN orders o ON o.id = s.order_id
    GROUP BY s.city, s.is_express
)
SELECT shipping_city,
       is_express,
       CAST(delivery_fee_sum / CAST(nullif(delivery_fee_count, 0) AS DECIMAL(20, 0)) AS DECIMAL(18, 4)) AS average_delivery_fee,
       shipment_count,
       CAST(delivery_seconds AS DOUBLE) / CAST(nullif(delivered_count, 0) AS DOUBLE) / 86400.0 AS average_delivery_days,
       delivery_fee_sum,
       delivery_fee_count,
       delivery_seconds,
       delivered_count
FROM measures
