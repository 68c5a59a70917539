-- vendor_application_metrics: per account type and status: application_count, average_application_year = mean
-- year in which the applications were created.
SELECT business_account_type,
       status,
       count(*) AS application_count,
       avg(CAST(application_year AS DOUBLE)) AS average_application_year
FROM vendor_applications_data
GROUP BY business_account_type, status
