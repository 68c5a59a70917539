-- shipping_performance_metrics: per shipping city and express flag, over shipments: average_delivery_fee,
-- shipment_count, average_delivery_days = mean days from the order to the delivery (delivered shipments only).
SELECT s.city AS shipping_city,
       s.is_express,
       CAST(avg(s.delivery_fee) AS DECIMAL(18, 4)) AS average_delivery_fee,
       count(*) AS shipment_count,
       avg(
           CASE WHEN s.delivered_at IS NOT NULL AND o.order_date IS NOT NULL
                THEN CAST(date_part('epoch', s.delivered_at) - date_part('epoch', o.order_date) AS DOUBLE) / 86400.0 END
       ) AS average_delivery_days
FROM shipping_info s
LEFT JOIN orders o ON o.id = s.order_id
GROUP BY s.city, s.is_express
