-- customer_segments: per gender, role and country of the user's address: customer_count = users,
-- verification_rate = share of them verified (0 to 1).
SELECT user_gender,
       user_role,
       address_country,
       count(*) AS customer_count,
       avg(CASE WHEN user_is_verified THEN 1.0 ELSE 0.0 END) AS verification_rate
FROM users_data
GROUP BY user_gender, user_role, address_country
