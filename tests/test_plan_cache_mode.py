"""A service's connections take its plan_cache_mode: scoring plans each batch statement with its own keys,
so that a plan made while a table was small never scans it once it has grown."""

from __future__ import annotations

from typing import Any

import pytest

from leadflow_shared.service import Runtime, Service


async def _plan_cache_mode(service: Service) -> str:
    runtime = Runtime(service, service.settings())
    try:
        async with runtime.db.engine.connect() as conn:
            return str((await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar())
    finally:
        await runtime.db.dispose()


@pytest.mark.parametrize(("name", "mode"), [("scoring", "force_custom_plan"), ("intake", "auto")])
async def test_each_service_plans_as_its_settings_say(name: str, mode: str, leadflow_env: dict[str, str],
                                                      migrated: dict[str, Service], monkeypatch: Any) -> None:
    for key, value in leadflow_env.items():
        monkeypatch.setenv(key, value)
    assert await _plan_cache_mode(migrated[name]) == mode


async def test_the_setting_overrides_a_services_default(leadflow_env: dict[str, str], migrated: dict[str, Service],
                                                       monkeypatch: Any) -> None:
    for key, value in leadflow_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LEADFLOW_PG_PLAN_CACHE_MODE", "auto")
    assert await _plan_cache_mode(migrated["scoring"]) == "auto"
