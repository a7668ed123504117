"""leadflow's benchmarks, one module a bench (`leadflow bench <name>`, entry-point group `leadflow.bench`);
what they share lives in `common`. They run against the local stack (leadflow-localstack) or the
LEADFLOW_* addresses given, and ship in no service image."""
