-- gold.ad_daily: ad delivery and response per ad and campaign, per event date.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the dates being built
--   run_dates(date)      the dates being built
-- One row per (ad_id, campaign_id) with at least one ad_* event on D; campaign_id may be
-- NULL (not required by the event contract) and the NULL campaign is a group of its own.
--
-- Metrics (DESIGN §3):
--   impressions, clicks, skips, completes = counts of ad_impression, ad_click, ad_skip, ad_complete
--   ctr              = clicks / impressions
--   completion_rate  = completes / impressions
--   skip_rate        = skips / impressions
-- A rate is NULL when impressions = 0 (say, a click whose impression was on the previous date).

WITH counts AS (
    SELECT
        event_date,
        ad_id,
        campaign_id,
        SUM(CASE WHEN event_type = 'ad_impression' THEN 1 ELSE 0 END) AS impressions,
        SUM(CASE WHEN event_type = 'ad_click' THEN 1 ELSE 0 END) AS clicks,
        SUM(CASE WHEN event_type = 'ad_skip' THEN 1 ELSE 0 END) AS skips,
        SUM(CASE WHEN event_type = 'ad_complete' THEN 1 ELSE 0 END) AS completes
    FROM silver_video_events
    WHERE event_type IN ('ad_impression', 'ad_click', 'ad_skip', 'ad_complete') AND ad_id IS NOT NULL
    GROUP BY event_date, ad_id, campaign_id
)
SELECT
    event_date AS date,
    ad_id,
    campaign_id,
    impressions,
    clicks,
    skips,
    completes,
    CASE WHEN impressions > 0 THEN CAST(clicks AS DOUBLE) / impressions END AS ctr,
    CASE WHEN impressions > 0 THEN CAST(completes AS DOUBLE) / impressions END AS completion_rate,
    CASE WHEN impressions > 0 THEN CAST(skips AS DOUBLE) / impressions END AS skip_rate
FROM counts
ORDER BY date, ad_id, campaign_id
