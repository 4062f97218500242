"""Tasks (活动, 巡查): publishing, presence, attendance, presence codes and figures."""
