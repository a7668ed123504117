"""console: the pages reps and managers work in (销售工作台), server-rendered over the services' public APIs."""
