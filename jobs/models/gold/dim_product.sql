-- dim_product (star schema): one row per product: product_key = product id, with its category and vendor.
-- incremental: product_key <- products_data.product_id
-- grain: product_key
SELECT product_id AS product_key,
       product_name,
       sku,
       category_name,
       product_vendor_id AS vendor_id,
       price,
       product_status AS status
FROM products_data
