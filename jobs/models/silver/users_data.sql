-- users_data: one row per user (grain: users.id) with one address: the user's default address (is_default), else
-- the most recently updated one, else none. Never one row per address. The password is not in the lake at all.
-- _ingested_at is the newest ingestion time of every row it was made from (all the user's addresses).
-- incremental: user_id <- users.id, address.user_id
-- grain: user_id
-- (The newest ingestion time per user is a GROUP BY, not an unbounded window: see orders_data.)
WITH ranked AS (
    SELECT user_id, city, zip_code, region, country,
           row_number() OVER (
               PARTITION BY user_id
               ORDER BY CASE WHEN is_default THEN 0 ELSE 1 END, updated_at DESC NULLS LAST, id DESC
           ) AS rn
    FROM address
),
address_ingested AS (
    SELECT user_id, max(_ingested_at) AS _ingested_at FROM address GROUP BY user_id
),
ranked_address AS (
    SELECT r.user_id, r.city, r.zip_code, r.region, r.country, n._ingested_at, r.rn
    FROM ranked r
    JOIN address_ingested n ON n.user_id = r.user_id
    WHERE r.rn = 1
)
SELECT u.id AS user_id,
       u.email AS user_email,
       u.phone_number AS user_phone_number,
       u.gender AS user_gender,
       u.full_name AS user_full_name,
       u.provider AS user_provider,
       u.role AS user_role,
       u.is_verified AS user_is_verified,
       u.is_enabled AS user_is_enabled,
       u.created_at AS user_created_at,
       u.updated_at AS user_updated_at,
       a.city AS address_city,
       a.zip_code AS address_zip_code,
       a.region AS address_region,
       a.country AS address_country,
       greatest(u._ingested_at, a._ingested_at) AS _ingested_at
FROM users u
LEFT JOIN ranked_address a ON a.user_id = u.id AND a.rn = 1
