"""The community shop (积分超市): rewards on the shelf, orders, and the counter (核销)."""
