"""intake: the partner-facing front door. A submission becomes a lead, recorded and published."""
