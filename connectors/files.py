"""Local file connectors: OKRs from YAML, work items from JSON, results to a JSON report.

They need no network, so ``okr-sync validate`` can read them, and the shipped
example runs on them. File formats are documented in the README.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ValidationError

from connectors._file_check import check_items_file, check_okr_file, check_report_file
from connectors._filters import query_problem
from connectors._okr_ids import id_problems
from connectors._select import select
from okr_sync.errors import ConfigError, Problem, SourceError, WriteError
from okr_sync.interfaces import (
    OBJECTIVE_FIELDS,
    OKR_FIELDS,
    CheckContext,
    CheckResult,
    ConnectorConfig,
    WriteSpec,
    YamlDocument,
    load_yaml,
    okr_records,
    resolve_path,
)
from okr_sync.models import (
    WORK_ITEM,
    FieldValue,
    ItemRef,
    KeyResult,
    Objective,
    OkrTree,
    Outcome,
    PullRequest,
    PullResult,
    Record,
    RecordRef,
    WorkItem,
    measure_problem,
)

# Friendlier names accepted in the YAML OKR file, mapped to the model's fields.
_OBJECTIVE_ALIASES = {"parent": "parent_id"}
_KR_ALIASES = {"objective": "objective_id"}


def _read_text(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(source, f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            source, f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def _validation_problems(
    doc: YamlDocument, exc: ValidationError, at: tuple[str | int, ...]
) -> list[Problem]:
    return [
        doc.problem((*at, *(p for p in err["loc"] if isinstance(p, str | int))), err["msg"])
        for err in exc.errors(include_url=False)
    ]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class YamlOkrConfig(ConnectorConfig):
    """``type: yaml_okrs``: objectives and key results in a YAML file."""

    type: Literal["yaml_okrs"]
    path: str

    def source_identity(self) -> str:
        """The OKR file, as the config names it (relative to the config's folder)."""
        return f"yaml_okrs:{self.path}"


class YamlOkrSource:
    """OKR source reading a YAML file with ``objectives`` and ``key_results`` lists.

    A KR's ``epics`` list links it to items (like a Notion property listing
    epic keys); ``objective`` and ``parent`` are accepted for ``objective_id``
    and ``parent_id``. An omitted ``start`` or ``target`` stays None (a KR whose
    measure needs it fails, naming it); an unknown ``measure`` is a problem.
    Every problem is reported with its line.
    """

    config_model: ClassVar[type[ConnectorConfig]] = YamlOkrConfig
    offline: ClassVar[bool] = True

    def __init__(self, name: str, config: YamlOkrConfig, base_dir: Path) -> None:
        self.name = name
        self.path = resolve_path(config.path, base_dir)

    def pull_okrs(self) -> OkrTree:
        """Parse the file. Raises ConfigError listing every problem with its line."""
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            problem = Problem(str(self.path), None, "", f"cannot read the OKR file: {exc.strerror or exc}",
                              f"check 'path' of the {self.name!r} connection")  # fmt: skip
            raise ConfigError([problem]) from None
        doc, problems = load_yaml(raw, str(self.path))
        if doc is None or problems:
            raise ConfigError(problems)
        data = doc.data if isinstance(doc.data, dict) else None
        if data is None:
            raise ConfigError(
                [doc.problem((), "expected a mapping with 'objectives' and 'key_results'")]
            )
        for key in data:
            if key not in ("objectives", "key_results"):
                problems.append(
                    doc.problem((key,), "unknown key", "use objectives and key_results")
                )
        objectives: list[tuple[int, Objective]] = []  # with each entry's index in the file
        key_results: list[tuple[int, KeyResult]] = []
        for section, model, aliases, out in (
            ("objectives", Objective, _OBJECTIVE_ALIASES, objectives),
            ("key_results", KeyResult, _KR_ALIASES, key_results),
        ):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                problems.append(doc.problem((section,), "expected a list"))
                continue
            for index, raw in enumerate(entries):
                if not isinstance(raw, dict):
                    problems.append(doc.problem((section, index), "expected a mapping"))
                    continue
                fields = {aliases.get(k, k): v for k, v in raw.items()}
                if section == "key_results" and "epics" in fields:
                    epics = fields.pop("epics") or []
                    if not isinstance(epics, list) or not all(
                        isinstance(k, str | int) and not isinstance(k, bool) for k in epics
                    ):
                        problems.append(
                            doc.problem(
                                (section, index, "epics"),
                                "expected a list of item keys",
                                "e.g. epics: [PAY-1, PAY-2]",
                            )
                        )
                        continue
                    fields["links"] = [ItemRef(key=str(k)) for k in epics]
                try:
                    entry = model.model_validate(fields)
                    out.append((index, entry))  # type: ignore[arg-type]
                    if isinstance(entry, KeyResult) and entry.measure is not None:
                        # A typo (`measure: manaul`) must not compute as another measure.
                        unknown = measure_problem(entry.measure)
                        if unknown:
                            problems.append(doc.problem((section, index, "measure"), unknown))
                except ValidationError as exc:
                    reverse = {v: k for k, v in aliases.items()} | {"links": "epics"}
                    for err in exc.errors(include_url=False):
                        loc = [reverse.get(p, p) if isinstance(p, str) else p for p in err["loc"]]
                        problems.append(doc.problem((section, index, *loc), err["msg"]))
        problems += id_problems(doc, objectives, key_results)
        if problems:
            raise ConfigError(problems)
        return OkrTree(
            objectives=tuple(o for _, o in objectives), key_results=tuple(k for _, k in key_results)
        )

    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: the file exists and reads (every problem with its line)."""
        return check_okr_file(self.name, self.path, self.pull_okrs)


class JsonItemsConfig(ConnectorConfig):
    """``type: json_items``: work items in a JSON file (``{"items": [...]}``)."""

    type: Literal["json_items"]
    path: str


class JsonItemSource:
    """Item source reading a JSON file; item fields are those of ``WorkItem``."""

    config_model: ClassVar[type[ConnectorConfig]] = JsonItemsConfig
    offline: ClassVar[bool] = True
    query_problem = staticmethod(query_problem)

    def __init__(self, name: str, config: JsonItemsConfig, base_dir: Path) -> None:
        self.name = name
        self.path = resolve_path(config.path, base_dir)

    def load(self) -> list[WorkItem]:
        """Read and validate every item. Raises SourceError naming file, line or item."""
        text = _read_text(self.path, self.name)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(
                self.name, f"{self.path}:{exc.lineno}: invalid JSON: {exc.msg}"
            ) from exc
        raw_items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(raw_items, list):
            raise SourceError(self.name, f"{self.path}: expected an object with an 'items' list")
        items: list[WorkItem] = []
        errors: list[str] = []
        for index, raw in enumerate(raw_items):
            try:
                items.append(WORK_ITEM.validate_python({**raw, "source": self.name}))
            except (ValidationError, TypeError) as exc:
                where = raw.get("key", index) if isinstance(raw, dict) else index
                detail = (
                    "; ".join(
                        f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors(include_url=False)
                    )
                    if isinstance(exc, ValidationError)
                    else "expected an object"
                )
                errors.append(f"items[{index}] ({where}): {detail}")
        if errors:
            raise SourceError(self.name, f"{self.path}: " + " | ".join(errors[:10]))
        return items

    def pull_items(self, request: PullRequest) -> PullResult:
        """The items matching the request (always a full pull: files are cheap)."""
        return select(self.name, self.load(), request)

    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: the file exists and reads, and holds every key linked to a KR."""
        return check_items_file(self.name, self.path, self.load, context.item_keys)


class JsonReportConfig(ConnectorConfig):
    """``type: json_report``: a JSON file that receives the computed values."""

    type: Literal["json_report"]
    path: str


class JsonReportTarget:
    """Write target keeping KR and objective values in a JSON file.

    The file maps ``key_results`` and ``objectives`` to ``{id: {field: value}}``.
    Each write replaces the file atomically, so a crash never leaves half a file.
    Edit a value by hand and the next run reports a conflict, like a human edit
    on a Notion page.
    """

    config_model: ClassVar[type[ConnectorConfig]] = JsonReportConfig
    offline: ClassVar[bool] = True
    writable_fields: ClassVar[Mapping[str, frozenset[str]]] = {
        "key_result": OKR_FIELDS,
        "objective": OBJECTIVE_FIELDS,
    }
    _sections: ClassVar[dict[str, str]] = {"key_result": "key_results", "objective": "objectives"}

    def __init__(self, name: str, config: JsonReportConfig, base_dir: Path) -> None:
        self.name = name
        self.path = resolve_path(config.path, base_dir)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SourceError(self.name, f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SourceError(self.name, f"{self.path}: expected a JSON object")
        return data

    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: an existing file parses, and its folder can take the rewritten file."""
        return check_report_file(self.name, self.path, self._load)

    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """KR and objective records (see :func:`okr_sync.interfaces.okr_records`)."""
        return okr_records(outcome, spec)

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values from the file; a missing file or record reads as empty."""
        data = self._load()
        out: dict[RecordRef, dict[str, FieldValue]] = {}
        for ref in refs:
            section = data.get(self._sections.get(ref.kind, ref.kind)) or {}
            values = section.get(ref.id) if isinstance(section, dict) else None
            out[ref] = dict(values) if isinstance(values, dict) else {}
        return out

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Update one record's fields and replace the file atomically."""
        try:
            data = self._load()
        except SourceError as exc:
            raise WriteError(self.name, str(exc)) from exc
        section = data.setdefault(self._sections.get(ref.kind, ref.kind), {})
        section.setdefault(ref.id, {}).update(values)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else _default_mode()
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            os.chmod(tmp, mode)  # mkstemp makes 0600; keep what the file had (or the umask default)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise WriteError(self.name, f"cannot write {self.path}: {exc}") from exc
