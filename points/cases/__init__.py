"""Cases (交办 → 处置 → 复查 → 回访): the workflow, units, forwarding to outside systems, figures, Open311."""
