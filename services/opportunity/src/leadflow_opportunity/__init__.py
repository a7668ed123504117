"""opportunity: converts qualified leads into customers and opportunities; reports the funnel."""
