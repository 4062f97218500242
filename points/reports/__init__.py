"""Reports (随手拍): intake, staff review, how members see them, awards and reversals."""
