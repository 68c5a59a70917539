-- products_data: one row per product (grain: products.id). Categories come through product_category (the original
-- joined categories on the product id): category_name is the product's first category by id, category_names all of
-- them in alphabetical order. Variants and active reviews are aggregated before the join, so nothing multiplies.
-- _ingested_at is the newest ingestion time of every row it was made from; a change to categories rebuilds it.
-- incremental: product_id <- products.id, product_category.product_id, product_variants.product_id, reviews.product_id
-- grain: product_id
WITH cats AS (
    SELECT pc.product_id,
           array_to_string(array_sort(array_agg(c.name)), ', ') AS category_names,
           min(c.id) AS first_category_id,
           max(greatest(pc._ingested_at, c._ingested_at)) AS _ingested_at
    FROM product_category pc
    JOIN categories c ON c.id = pc.category_id
    GROUP BY pc.product_id
),
variants AS (
    SELECT product_id, count(*) AS variant_count, sum(stock_quantity) AS variant_stock, max(_ingested_at) AS _ingested_at
    FROM product_variants
    GROUP BY product_id
),
revs AS (
    SELECT product_id,
           count(*) FILTER (WHERE status = 'ACTIVE') AS review_count,
           avg(CAST(rating AS DOUBLE)) FILTER (WHERE status = 'ACTIVE') AS average_rating,
           max(_ingested_at) AS _ingested_at
    FROM reviews
    GROUP BY product_id
)
SELECT p.id AS product_id,
       p.name AS product_name,
       p.sku,
       p.price,
       p.stock_quantity,
       p.low_stock_threshold,
       p.status AS product_status,
       p.vendor_id AS product_vendor_id,
       p.is_active,
       p.created_at,
       p.updated_at,
       fc.name AS category_name,
       cats.category_names,
       COALESCE(variants.variant_count, 0) AS variant_count,
       variants.variant_stock,
       COALESCE(revs.review_count, 0) AS review_count,
       revs.average_rating,
       greatest(p._ingested_at, cats._ingested_at, variants._ingested_at, revs._ingested_at) AS _ingested_at
FROM products p
LEFT JOIN cats ON cats.product_id = p.id
LEFT JOIN categories fc ON fc.id = cats.first_category_id
LEFT JOIN variants ON variants.product_id = p.id
LEFT JOIN revs ON revs.product_id = p.id
