"""The component catalog: its contract with the editor, and idempotent seeding of its tables.

The session-scoped fixture has already seeded the database; tests that seed something else put
the original catalog back before they end, so other tests see it unchanged. The server never
reads the tables; `stored_catalog` reads them here to prove they hold the catalog.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Component,
    ComponentApiConfig,
    ComponentField,
    ComponentOutputSchema,
    ComponentPort,
)
from db.repositories.components import ComponentRepository
from seeds.seeding import seed_catalog
from services.execution.catalog import (
    PORT_KINDS,
    ApiConfig,
    Catalog,
    ComponentSpec,
    FieldOption,
    FieldSpec,
    PortSpec,
)
from services.execution.components import CATALOG
from services.execution.languages import LANGUAGES, language_name
from services.execution.providers.known import PROVIDERS

CATALOG_MODELS = (
    Component,
    ComponentField,
    ComponentPort,
    ComponentApiConfig,
    ComponentOutputSchema,
)

# The catalog the editor codes against: type -> (category, executes).
EDITOR_TYPES = {
    "consistentCharacter": ("data source", True),
    "sceneBuilder": ("data source", True),
    "initialPrompt": ("text", True),
    "promptEnhancer": ("text", True),
    "translator": ("text", True),
    "storyTeller": ("text", True),
    "grammarFix": ("text", True),
    "compressor": ("text", True),
    "textOutput": ("output", True),
    "imageGenerator": ("image", True),
    "imageOutput": ("output", True),
    "note": ("editor", False),
    "group": ("editor", False),
}

# and type -> (field keys, input ports, output ports), where a port is
# (id, kind, accepts several edges).
Ports = list[tuple[str, str, bool]]
EDITOR_CONTRACT: dict[str, tuple[list[str], Ports, Ports]] = {
    "consistentCharacter": (
        ["characterId", "name", "description", "appearance", "personality", "outfit"],
        [],
        [("persona", "persona", False)],
    ),
    "sceneBuilder": (
        ["setting", "timeOfDay", "lighting", "mood", "camera", "style", "weather"],
        [],
        [("scene", "scene", False)],
    ),
    "initialPrompt": (
        ["text"],
        [("persona", "persona", True), ("scene", "scene", True)],
        [("text", "text", False)],
    ),
    "promptEnhancer": (["notes"], [("text", "text", True)], [("text", "text", False)]),
    "translator": (["targetLanguage"], [("text", "text", True)], [("text", "text", False)]),
    "storyTeller": (
        ["notes", "length"],
        [("text", "text", True), ("persona", "persona", True)],
        [("text", "text", False)],
    ),
    "grammarFix": (["style"], [("text", "text", True)], [("text", "text", False)]),
    "compressor": (["maxChars"], [("text", "text", True)], [("text", "text", False)]),
    "textOutput": (["label"], [("text", "text", True)], []),
    "imageGenerator": (
        ["width", "height", "aspectRatio", "steps", "seed", "model"],
        [("text", "text", False)],
        [("images", "image", False)],
    ),
    "imageOutput": (["label"], [("images", "image", True)], []),
    "note": (["text"], [], []),
    "group": (["label"], [], []),
}

FIELD_KINDS = {"text", "textarea", "number", "select", "combobox", "character", "model"}


async def _snapshot(session: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    """Every catalog row, read straight from the tables (bypassing the identity map)."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for model in CATALOG_MODELS:
        table = model.__table__
        rows = (await session.execute(select(table).order_by(table.c.id))).mappings().all()
        snapshot[model.__tablename__] = [dict(row) for row in rows]
    return snapshot


async def stored_catalog(session: AsyncSession) -> Catalog:
    """The catalog the tables hold, read back into the engine's dataclasses."""
    repository = ComponentRepository(session)
    rows = await repository.list_all()
    ids = [row.id for row in rows]
    fields: defaultdict[Any, list[FieldSpec]] = defaultdict(list)
    for field in await repository.fields_for(ids):
        options = None if field.options is None else tuple(
            FieldOption(value=str(item["value"]), label=str(item["label"])) for item in field.options
        )
        fields[field.component_id].append(
            FieldSpec(
                key=field.key,
                label=field.label,
                kind=field.kind,
                default=field.default,
                options=options,
                required=field.required,
                validation=field.validation,
            )
        )
    ports: defaultdict[Any, list[PortSpec]] = defaultdict(list)
    for port in await repository.ports_for(ids):
        ports[port.component_id].append(
            PortSpec(
                key=port.key,
                direction="input" if port.direction == "input" else "output",
                kind=port.kind,
                multiple=port.multiple,
                label=port.label,
            )
        )
    api_configs = {
        config.component_id: ApiConfig(
            provider_call=config.provider_call,
            provider_kind=config.provider_kind,
            default_provider=config.default_provider,
            default_model=config.default_model,
            temperature=config.temperature,
            prompt_id=config.prompt_id,
        )
        for config in await repository.api_configs_for(ids)
    }
    schemas = {row.component_id: row.json_schema for row in await repository.output_schemas_for(ids)}
    return Catalog(
        components=tuple(
            ComponentSpec(
                type=row.type,
                name=row.name,
                category=row.category,
                description=row.description,
                icon=row.icon,
                order=row.order,
                is_executable=row.is_executable,
                fields=tuple(fields[row.id]),
                ports=tuple(ports[row.id]),
                api_config=api_configs.get(row.id),
                output_schema=schemas.get(row.id),
            )
            for row in rows
        )
    )


def _by_type(catalog: Catalog) -> dict[str, ComponentSpec]:
    return {component.type: component for component in catalog.components}


def test_catalog_has_the_thirteen_component_types_of_the_spec() -> None:
    assert [c.type for c in CATALOG.components] == list(EDITOR_TYPES)
    assert {c.type: (c.category, c.is_executable) for c in CATALOG.components} == EDITOR_TYPES
    assert [c.order for c in CATALOG.components] == list(range(13))


def test_field_keys_and_port_ids_match_the_editor_contract() -> None:
    for component in CATALOG.components:
        field_keys, inputs, outputs = EDITOR_CONTRACT[component.type]
        assert [f.key for f in component.fields] == field_keys, component.type
        assert [
            (p.key, p.kind, p.multiple) for p in component.ports if p.direction == "input"
        ] == inputs, component.type
        assert [
            (p.key, p.kind, p.multiple) for p in component.ports if p.direction == "output"
        ] == outputs, component.type


def test_every_field_and_port_is_described() -> None:
    for component in CATALOG.components:
        assert component.name and component.description and component.icon, component.type
        for field in component.fields:
            assert field.label and field.kind in FIELD_KINDS, (component.type, field.key)
            if field.kind in ("select", "combobox"):
                assert field.options, (component.type, field.key)
        for port in component.ports:
            assert port.label and port.kind in PORT_KINDS, (component.type, port.key)


def test_only_the_bold_fields_of_the_spec_are_required() -> None:
    required = {
        (component.type, field.key)
        for component in CATALOG.components
        for field in component.fields
        if field.required
    }
    assert required == {("initialPrompt", "text"), ("translator", "targetLanguage")}


def test_defaults_follow_the_spec() -> None:
    catalog = _by_type(CATALOG)
    image = catalog["imageGenerator"]

    def default(component: str, key: str) -> Any:
        field = catalog[component].field(key)
        assert field is not None
        return field.default

    assert default("compressor", "maxChars") == 2500
    assert default("storyTeller", "length") == "medium"
    assert [default("imageGenerator", key) for key in ("width", "height", "steps", "seed")] == [
        1024,
        1024,
        4,
        None,
    ]
    assert image.api_config is not None
    assert image.api_config.default_provider == "fireworks"
    assert image.api_config.default_model == PROVIDERS["fireworks"].default_model


def test_translator_offers_every_language_of_the_language_table() -> None:
    field = _by_type(CATALOG)["translator"].field("targetLanguage")
    assert field is not None and field.kind == "select"
    assert field.options == tuple(FieldOption(code, name) for code, name in LANGUAGES.items())
    assert language_name("fr") == "French"
    assert language_name("xx") is None


def test_scene_blocks_accept_free_text_as_well_as_options() -> None:
    scene_builder = _by_type(CATALOG)["sceneBuilder"]
    assert {field.kind for field in scene_builder.fields} == {"combobox"}


def test_api_config_says_which_nodes_call_a_provider() -> None:
    calls = {c.type: c.api_config.provider_call for c in CATALOG.components if c.api_config}
    assert len(calls) == 13
    assert calls == {
        "consistentCharacter": "none",
        "sceneBuilder": "none",
        "initialPrompt": "conditional",
        "promptEnhancer": "always",
        "translator": "always",
        "storyTeller": "always",
        "grammarFix": "always",
        "compressor": "conditional",
        "textOutput": "none",
        "imageGenerator": "always",
        "imageOutput": "none",
        "note": "none",
        "group": "none",
    }
    for component in CATALOG.components:
        config = component.api_config
        assert config is not None
        calls_provider = config.provider_call != "none"
        assert (config.prompt_id == component.type) is calls_provider, component.type
        assert (config.provider_kind is not None) is calls_provider, component.type
        assert config.default_provider is None or config.default_provider in PROVIDERS
    story_teller = _by_type(CATALOG)["storyTeller"].api_config
    assert story_teller is not None and story_teller.temperature == 0.95


def test_executable_types_have_an_output_schema() -> None:
    for component in CATALOG.components:
        assert (component.output_schema is not None) is component.is_executable, component.type
    catalog = _by_type(CATALOG)
    assert catalog["promptEnhancer"].output_schema == {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }
    for component_type, key in [
        ("consistentCharacter", "persona"),
        ("sceneBuilder", "scene"),
        ("imageGenerator", "images"),
        ("imageOutput", "images"),
        ("textOutput", "text"),
    ]:
        schema = catalog[component_type].output_schema
        assert schema is not None and schema["required"][0] == key, component_type


async def test_the_tables_hold_the_catalog(session: AsyncSession) -> None:
    loaded = await stored_catalog(session)
    assert [c.type for c in loaded.components] == [c.type for c in CATALOG.components]
    for expected in CATALOG.components:
        assert loaded.get(expected.type) == expected, expected.type
    assert loaded == CATALOG


async def test_seeding_twice_changes_nothing(session: AsyncSession) -> None:
    before = await _snapshot(session)
    await seed_catalog(session)
    await seed_catalog(session)
    await session.commit()
    after = await _snapshot(session)
    assert {table: len(rows) for table, rows in after.items()} == {
        table: len(rows) for table, rows in before.items()
    }
    assert after == before


async def test_changed_entry_is_updated_in_place(session: AsyncSession) -> None:
    before = await _snapshot(session)
    translator = _by_type(CATALOG)["translator"]
    target_language = translator.fields[0]
    changed_translator = dataclasses.replace(
        translator,
        name="Translate",
        fields=(
            dataclasses.replace(
                target_language,
                label="Language",
                options=target_language.options[:3] if target_language.options else None,
            ),
            dataclasses.replace(target_language, key="tone", label="Tone", required=False),
        ),
        # The output port goes; the input port gets a new label.
        ports=(dataclasses.replace(translator.ports[0], label="Source text"),),
    )
    changed = Catalog(
        components=tuple(
            changed_translator if c.type == "translator" else c for c in CATALOG.components
        )
    )
    try:
        await seed_catalog(session, changed)
        await session.commit()
        assert await stored_catalog(session) == changed

        after = await _snapshot(session)
        component_ids = {row["type"]: row["id"] for row in after["agentic_components"]}
        assert component_ids == {row["type"]: row["id"] for row in before["agentic_components"]}
        translator_id = component_ids["translator"]
        fields = {
            row["key"]: row
            for row in after["component_fields"]
            if row["component_id"] == translator_id
        }
        old_field = next(
            row for row in before["component_fields"] if row["component_id"] == translator_id
        )
        assert fields["targetLanguage"]["id"] == old_field["id"]
        assert fields["targetLanguage"]["label"] == "Language"
        assert len(fields["targetLanguage"]["options"]) == 3
        assert "tone" in fields
        ports = [row for row in after["component_ports"] if row["component_id"] == translator_id]
        old_input = next(
            row
            for row in before["component_ports"]
            if row["component_id"] == translator_id and row["direction"] == "input"
        )
        assert [(p["id"], p["direction"], p["label"]) for p in ports] == [
            (old_input["id"], "input", "Source text")
        ]
    finally:
        await seed_catalog(session)
        await session.commit()

    restored = await _snapshot(session)
    assert await stored_catalog(session) == CATALOG
    # Everything the change did not touch kept its row; the deleted port came back as a new row.
    assert restored["agentic_components"] == before["agentic_components"]
    assert restored["component_api_config"] == before["component_api_config"]
    assert len(restored["component_ports"]) == len(before["component_ports"])
    assert len(restored["component_fields"]) == len(before["component_fields"])


async def test_seeding_creates_a_component_missing_from_the_database(
    session: AsyncSession,
) -> None:
    extra = dataclasses.replace(_by_type(CATALOG)["note"], type="testOnlyNote", order=99)
    try:
        await seed_catalog(session, Catalog(components=(*CATALOG.components, extra)))
        await session.commit()
        loaded = await stored_catalog(session)
        assert loaded.get("testOnlyNote") == extra
    finally:
        # Seeding never removes a type, so the test removes its own.
        row = await session.scalar(
            select(Component).where(Component.type == "testOnlyNote")
        )
        if row is not None:
            await session.delete(row)
        await session.commit()
    assert await stored_catalog(session) == CATALOG
