# leadflow: two commands set everything up on a fresh machine.
#   make demo   the platform on the local stack, a sample lead through all five services
#   make test   the whole suite against real Postgres, Kafka and Temporal
SHELL := /bin/bash
VENV := .venv
LEADFLOW := $(VENV)/bin/leadflow

.PHONY: setup demo test test-chaos down status contracts clean

setup:  ## install what is missing: uv, PostgreSQL, Java, Maven, the Python packages
	@deploy/local/bootstrap.sh

demo: setup  ## stack up, services up, a sample lead's journey printed; stop with `make down`
	$(LEADFLOW) demo

test: setup  ## the whole suite (starts the local stack when it is not up)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-chaos: setup  ## the long fault run: 10,000 leads, every service killed, Kafka, Postgres and Temporal restarted
	$(VENV)/bin/python -m pytest tests/chaos -m chaos -s $(PYTEST_ARGS)

down:  ## stop the services and the stack `make demo` started
	$(LEADFLOW) down

status:
	$(LEADFLOW) stack status
	$(LEADFLOW) services status

contracts:  ## regenerate shared/contracts/ (JSON Schemas and the AsyncAPI document)
	$(LEADFLOW) contracts export

clean: down
	rm -rf .local
