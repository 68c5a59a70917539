-- dim_date (star schema): one row per day from the first order's date to the later of the last order's date and the
-- run's logical date (date_key YYYYMMDD), so every fact row has its day.
WITH bounds AS (
    SELECT COALESCE(CAST(min(order_date) AS DATE), DATE '{{logical_date}}') AS first_day,
           greatest(COALESCE(CAST(max(order_date) AS DATE), DATE '{{logical_date}}'), DATE '{{logical_date}}') AS last_day
    FROM orders
),
days AS (
    SELECT unnest(generate_series(
        (SELECT first_day FROM bounds),
        greatest((SELECT first_day FROM bounds), (SELECT last_day FROM bounds)),
        INTERVAL '1 day'
    )) AS day
)
SELECT CAST(date_part('year', day) * 10000 + date_part('month', day) * 100 + date_part('day', day) AS INT) AS date_key,
       CAST(day AS DATE) AS full_date,
       CAST(date_part('year', day) AS INT) AS year,
       CAST(date_part('quarter', day) AS INT) AS quarter,
       CAST(date_part('month', day) AS INT) AS month,
       CAST(date_part('day', day) AS INT) AS day_of_month,
       CAST(date_part('dow', day) AS INT) AS day_of_week
FROM days
