CREATE TABLE IF NOT EXISTS "daily_sales_metrics" (
    "order_year" INTEGER,
    "order_month" INTEGER,
    "order_day" INTEGER,
    "daily_gmv" DOUBLE PRECISION,
    "order_count" BIGINT,
    "completed_orders" BIGINT,
    "average_order_value" DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS "_amali_loads" (table_name VARCHAR(128), delta_version BIGINT, rows_loaded BIGINT, run_id VARCHAR(128), loaded_at TIMESTAMP);

CREATE TEMP TABLE "daily_sales_metrics__amali_new" (LIKE "daily_sales_metrics");

COPY "daily_sales_metrics__amali_new" FROM 's3://amalimart-lake/delta/gold/daily_sales_metrics/_amali_manifests/v7.manifest' IAM_ROLE 'arn:aws:iam::050451375647:role/amalimart-redshift-copy' FORMAT AS PARQUET MANIFEST;

DELETE FROM "daily_sales_metrics";

INSERT INTO "daily_sales_metrics" SELECT * FROM "daily_sales_metrics__amali_new";

INSERT INTO "_amali_loads" (table_name, delta_version, rows_loaded, run_id, loaded_at) SELECT 'daily_sales_metrics', 7, count(*), 'run-2024-03-01', GETDATE() FROM "daily_sales_metrics__amali_new";
