"""What on-call gets: alerts and the stitching investigation."""
