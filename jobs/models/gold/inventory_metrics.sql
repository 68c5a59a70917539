-- inventory_metrics: per product category (first category; 'Uncategorized' when none): total_inventory =
-- sum(stock_quantity), low_stock_items = products at or under their low_stock_threshold (10 when unset),
-- average_stock_level = avg(stock_quantity).
SELECT COALESCE(category_name, 'Uncategorized') AS category_name,
       sum(stock_quantity) AS total_inventory,
       sum(CASE WHEN stock_quantity <= COALESCE(low_stock_threshold, 10) THEN 1 ELSE 0 END) AS low_stock_items,
       avg(CAST(stock_quantity AS DOUBLE)) AS average_stock_level
FROM products_data
GROUP BY 1
