"""Push: the job feed's hub, one per process (`hub.FeedHub`).

A feed (the job feed at one `limit`) is polled once per interval while anyone
listens, through the same cached, single-flight snapshot as the REST route; each
poll is compared with the last on a stable stream key and material fields, and
the difference goes to every listener as one pre-encoded event. With Redis
(`CACHE_URL`), one worker per feed polls (a leased leader) and the others relay
its events (`redis_bus`). `events` holds the event model, `subscriber` the
bounded per-listener queue, `capacity` the per-worker cap on long-lived streams.
"""
