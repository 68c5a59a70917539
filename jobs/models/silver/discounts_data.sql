-- discounts_data: one row per discount (grain: discounts.id) with the number of products it applies to.
SELECT d.id AS discount_id,
       d.code,
       d.name,
       d.description,
       d.discount_value,
       d.usage_limit,
       d.type AS discount_type,
       d.start_date,
       d.end_date,
       d.active,
       d.created_at,
       d.updated_at,
       COALESCE(dp.product_count, 0) AS product_count
FROM discounts d
LEFT JOIN (SELECT discount_id, count(*) AS product_count FROM discount_products GROUP BY discount_id) dp
    ON dp.discount_id = d.id
