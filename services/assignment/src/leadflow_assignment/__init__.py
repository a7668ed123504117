"""assignment: routes each lead to a rep, a manual queue or a pool; publishes leads.assigned.v1."""
