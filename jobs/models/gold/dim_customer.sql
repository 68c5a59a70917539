-- dim_customer (star schema): one row per user: customer_key = user id, with the user's attributes and address.
-- incremental: customer_key <- users_data.user_id
-- grain: customer_key
SELECT user_id AS customer_key,
       user_full_name AS full_name,
       user_email AS email,
       user_gender AS gender,
       user_role AS role,
       user_is_verified AS is_verified,
       address_city AS city,
       address_region AS region,
       address_country AS country,
       user_created_at AS created_at
FROM users_data
