"""Places: districts and streets above communities, grids, distances, and each community's scheme."""
