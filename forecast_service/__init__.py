"""forecast_service: the plan's dates as ranges, from many runs of the same schedule.

It follows ``conditioned`` like qplan_service (subscribe, then sync at
start, after a sequence gap and every resync interval) and commits dataset
``forecast`` (``forecast/forecast.json``, ``Source: conditioned@<sha>``):
``planning.montecarlo`` runs the planner's schedule ``[forecast_service]
runs`` times with every estimate drawn around the sheet's (``spread`` scales
the draws; 0 gives the plan's own dates), seeded by the conditioned commit,
so the same input gives byte-identical JSON and no new commit.
``formats.forecast`` documents the JSON.

``python -m forecast_service.filter [--runs N] [--spread S] [--seed HEX] <
streams.txt > forecast.json`` does the same for a streams file.
"""
