"""scoring: enriches, scores and qualifies leads; publishes leads.scored.v1."""
