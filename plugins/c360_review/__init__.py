"""The Customer 360 on-call review page: gate verdicts, check tables, alerts, stitching health."""
