-- vendor_applications_data: one row per application (grain: vendor_applications.id); the applicant's password is
-- never copied out of the app database.
SELECT v.id AS application_id,
       v.business_name,
       v.business_email,
       v.business_phone,
       v.business_description,
       v.business_address,
       v.business_account_type,
       v.representative_name,
       v.representative_email,
       v.representative_gender,
       v.status,
       v.rejection_reason,
       v.created_at,
       v.updated_at,
       CAST(date_part('year', v.created_at) AS INT) AS application_year
FROM vendor_applications v
