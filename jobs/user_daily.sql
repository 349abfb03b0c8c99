-- gold.user_daily: per user and event date: sessions, viewing, ad clicks, interactions.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the dates being built
--   run_dates(date)      the dates being built
-- One row per user_id with at least one silver event of D; computed from the events of D only.
--
-- Metrics (DESIGN §3):
--   sessions          = COUNT(DISTINCT session_id) over the user's events
--   views             = the user's distinct (session_id, content_id) pairs with at least one `play`
--   watch_time_s      = SUM(watched_s) over the user's events, rounded to milliseconds
--   distinct_content  = COUNT(DISTINCT content_id) over the user's `play` events
--   ad_clicks         = count of the user's ad_click events
--   interactions      = count of the user's like + dislike + comment + share + subscribe events
--   last_event_ts     = MAX(event_ts) over the user's events of D (UTC)

WITH views AS (
    SELECT event_date, user_id, COUNT(*) AS views
    FROM (
        SELECT DISTINCT event_date, user_id, session_id, content_id
        FROM silver_video_events
        WHERE event_type = 'play' AND content_id IS NOT NULL
    ) AS played
    GROUP BY event_date, user_id
),
events AS (
    SELECT
        event_date,
        user_id,
        COUNT(DISTINCT session_id) AS sessions,
        ROUND(COALESCE(SUM(watched_s), 0.0), 3) AS watch_time_s,
        COUNT(DISTINCT CASE WHEN event_type = 'play' THEN content_id END) AS distinct_content,
        SUM(CASE WHEN event_type = 'ad_click' THEN 1 ELSE 0 END) AS ad_clicks,
        SUM(CASE WHEN event_type IN ('like', 'dislike', 'comment', 'share', 'subscribe') THEN 1 ELSE 0 END) AS interactions,
        MAX(event_ts) AS last_event_ts
    FROM silver_video_events
    GROUP BY event_date, user_id
)
SELECT
    e.event_date AS date,
    e.user_id,
    e.sessions,
    COALESCE(v.views, 0) AS views,
    e.watch_time_s,
    e.distinct_content,
    e.ad_clicks,
    e.interactions,
    e.last_event_ts
FROM events e
LEFT JOIN views v ON e.event_date = v.event_date AND e.user_id = v.user_id
ORDER BY date, user_id
