-- customer_lifetime_value: per user with orders: total_order_amount sums each order's total once, order_count counts
-- orders, first and last order dates; with the user's name, email and address country.
-- incremental: user_id <- orders.user_id, users_data.user_id
-- grain: user_id
SELECT o.user_id,
       u.user_full_name,
       u.user_email,
       u.address_country,
       sum(o.total_amount) AS total_order_amount,
       count(*) AS order_count,
       min(o.order_date) AS first_order_date,
       max(o.order_date) AS last_order_date
FROM orders o
LEFT JOIN users_data u ON u.user_id = o.user_id
GROUP BY o.user_id, u.user_full_name, u.user_email, u.address_country
